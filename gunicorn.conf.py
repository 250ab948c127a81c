"""gunicorn settings, read from the current folder by default or named with `-c gunicorn.conf.py`."""

# --- Request limits -------------------------------------------------------------------------------
# gunicorn answers a request line or headers over its own limits (4,094 and 8,190 bytes by default)
# with an HTML page, before the app sees the request, so an API client would get HTML where it reads
# {"error": {"code", "message"}}. These settings let such requests through; the app then refuses them
# itself, as JSON under /api: a URL over MAX_URL_BYTES (8 KiB) with 414 `uri_too_long`, headers over
# MAX_HEADER_BYTES (16 KiB in all) with 431 `headers_too_large` (searchapp/guards.py).
#
# limit_request_line: 0 is "no limit" (gunicorn's C parser, gunicorn_h1c, caps it at 1 MiB); a
#   number can be at most 8,190, too close to the app's 8 KiB to leave the app the answer. A client
#   that sends an endless line ties a worker up only until gunicorn's worker timeout.
# limit_request_field_size: bytes of one header line. gunicorn 27 reads 0 as its 8,190 default, not
#   as "no limit", so it is a number: 64 KiB, four times the app's limit on all headers together.
# limit_request_fields: number of header lines (at most 32,768); with the field size it bounds the
#   header buffer gunicorn keeps for a request (200 x 64 KiB = 12.5 MiB).
# Over 200 header lines or one line over 64 KiB, gunicorn still answers with its own HTML 431; only a
# hostile client sends those. A reverse proxy in front keeps limits of its own (nginx: 8 KiB lines).
limit_request_line = 0
limit_request_field_size = 64 * 1024
limit_request_fields = 200
# --- end of request limits ------------------------------------------------------------------------
