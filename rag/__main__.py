from rag.cli import run

run()
