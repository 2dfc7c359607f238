from engram.cli import app

app()
