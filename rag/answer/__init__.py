"""From a question and its retrieved passages to a cited answer.

`query` reads the question once; `extractive` quotes the sentences that answer it offline;
`generate` has Ollama write the answer from the numbered passages of `context`, and `verify`
checks every sentence of it; `citations` numbers what is quoted.
"""
