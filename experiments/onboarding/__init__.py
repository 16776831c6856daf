"""``riskgrade init``: profile a user's CSV or Parquet file and write a ``params.yaml`` for it.

``reading`` finds the file's text encoding and delimiter and reads its cells (a sample of a
large file); ``tokens`` finds the text that means missing; ``profile`` decides every column's
role by generic, documented rules (types, constant, date-like, id-like, protected, free text)
and ``leakage`` flags a column that predicts the target almost perfectly; ``target`` decides
which label means default; ``params_file`` renders the whole ``params.yaml`` from its template.
"""
