"""SUNAT UBL 2.1: input model, totals, XML builder, XMLDSig signer/verifier, CDR reader."""
