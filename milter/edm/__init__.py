"""Exact data match: the organisation's own records as keyed hashes (README, "Exact data
match"). `import_csv` fills the store; `EdmService` is what the `edm` check looks up."""

from outguard.edm.hashing import EdmSecretError, Hasher, load_secret
from outguard.edm.schema import EdmSchema, EdmSchemaError, load_schema
from outguard.edm.store import EdmError, EdmService, ImportCounts, import_csv, service_from_config

__all__ = ["EdmError", "EdmSchema", "EdmSchemaError", "EdmSecretError", "EdmService", "Hasher", "ImportCounts",
           "import_csv", "load_schema", "load_secret", "service_from_config"]
