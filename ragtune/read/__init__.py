"""read: ingest files (txt, md, html, pdf, docx, jsonl, SQuAD, BEIR), chunk them, and update an index."""
