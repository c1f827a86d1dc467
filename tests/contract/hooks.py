"""Schemathesis hooks for the contract test: archives go up as the raw bytes generated for
their `format: binary` body (schemathesis has no built-in serializer for application/x-tar)."""

import schemathesis

schemathesis.serializer.alias("application/x-tar", "application/octet-stream")
