"""Peru: SUNAT UBL 2.1 documents (shared by every Peruvian provider) and the Bizlinks OSE."""
