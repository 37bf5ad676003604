"""Tools for demos and tests, not the product: the sample market and the fake NEPSE API."""
