"""Scoring newsdesk on gold question sets.

`gold` reads and checks gold files and their dev/test splits; `metrics` scores one answer and
sums up many; `run` answers every gold item and writes a report folder through `report`;
`judge` adds an optional LLM judge and `baseline` LlamaIndex's default pipeline to compare with.
Importing this package loads none of them (the CLI and the app import what they use).
"""
