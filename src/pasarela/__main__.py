from pasarela.cli.main import app

app(prog_name="pasarela")
