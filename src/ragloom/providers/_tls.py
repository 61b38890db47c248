"""One TLS context per process for the HTTP transports ragloom builds.

httpx builds a new `ssl.SSLContext` for every transport and client, loading the CA
bundle each time (25 to 70 ms here); an ingest builds several (the embeddings model's
sync and async transports, the `/api/show` request...). They all ask for the same
context, httpx's default (`verify=True`, honouring `SSL_CERT_FILE`/`SSL_CERT_DIR`), so
it is made once, when first needed, and shared: a context is safe to share between
connections and threads.

Example:
    >>> default_context() is default_context()
    True

"""

from __future__ import annotations

import functools
import ssl

import httpx

__all__ = ["default_context"]


@functools.cache
def default_context() -> ssl.SSLContext:
    """The default TLS context of httpx, made once per process."""
    return httpx.create_ssl_context()
