"""Price sources: format detection and file readers, the NEPSE API client."""
