"""The laws in force at genesis, one readable module a law.

Each module is contract source: the runtime reads it as text and runs it in
the sandbox, where only the library and the host API exist.  Importing one as
a Python module is for tests and tools only.  docs/laws/ has a page a law.
"""
