"""The wire contract of cephdr: every message on the bus as a frozen msgspec Struct.

Modules hold one topic each: `ids` (identifier types), `errors` (the error tree and its wire form),
`common` (request/reply bases), and one module per command area and per event family. `export`
writes the JSON Schema files under `schemas/json/`; a test fails when they drift from the code.
"""
