#!/usr/bin/env python3
"""A thin HTTP front for chDB: the current ClickHouse engine for the tests.

chDB (PyPI `chdb-core`) embeds the ClickHouse engine in-process and has no
server of its own, so the tests reach a current release (26.x) through this
adapter. It speaks the part of ClickHouse's HTTP interface that the
`clickhouse` Rust crate uses, and nothing more:

- `GET /ping` -> `Ok.`
- `POST /` with the SQL in the `query` URL parameter or in the body, or in
  a `multipart/form-data` body with a `query` part and one `param_NAME` part
  per bound parameter (the crate's form when `.param()` is used);
- `database` (the query's current database), `default_format` (the output
  format unless the SQL names one);
- every other URL parameter is a ClickHouse setting, applied with `SET` for
  that one request and reset to its default afterwards (an unknown setting
  is ClickHouse's own error, as on a real server);
- `INSERT ... FORMAT F` in the URL with the rows as the body: the body is
  written to a file and read by chDB with `INSERT ... FROM INFILE`;
- errors: HTTP 500 with `X-ClickHouse-Exception-Code` and ClickHouse's
  message as the body.

Everything else -- SQL, types, validation, limits, merges -- is the real
engine. chDB runs one query at a time per process, and the session state
(`USE`, `SET`) is shared, so requests are served one after another.
LZ4-framed bodies (`compress`/`decompress`) are refused: the lane runs with
`compression = "none"`.

Usage: chdb_http.py --data DIR [--port N]; prints `listening on PORT` once
ready.
"""

import argparse
import os
import re
import sys
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chdb import session as chdb_session

# URL parameters of the HTTP interface that are not settings.
NOT_SETTINGS = {
    "query",
    "database",
    "default_format",
    "user",
    "password",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "quota_key",
    "role",
    "wait_end_of_query",
    "buffer_size",
}
UNSUPPORTED = {"compress", "decompress"}
INSERT_WITH_FORMAT = re.compile(r"^(\s*INSERT\s+INTO\s+.+?)\s+FORMAT\s+(\w+)\s*;?\s*$", re.I | re.S)
HAS_FORMAT = re.compile(r"\bFORMAT\s+\w+\s*;?\s*$", re.I)
ERROR_CODE = re.compile(r"Code: (\d+)")
MULTIPART_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')
MULTIPART_NAME = re.compile(rb'name="([^"]*)"')
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ClickHouseError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class Engine:
    """One chDB session, used by one request at a time."""

    def __init__(self, data_dir):
        self.session = chdb_session.Session(data_dir)
        self.lock = threading.Lock()
        self.version = self.session.query("SELECT version()", "TabSeparated").bytes().decode().strip()

    def run(self, sql, database, settings, params, output_format, infile):
        with self.lock:
            try:
                self._query(f"USE `{database.replace('`', '')}`")
                applied = []
                try:
                    for name, value in settings.items():
                        if not SETTING_NAME.match(name):
                            raise ClickHouseError(115, f"Code: 115. DB::Exception: Unknown setting '{name}'. (UNKNOWN_SETTING)")
                        self._query(f"SET {name} = {quote(value)}")
                        applied.append(name)
                    if infile is not None:
                        sql = with_infile(sql, infile)
                    result = self.session.query(sql, output_format, params=params) if params \
                        else self.session.query(sql, output_format)
                    return result.bytes()
                finally:
                    for name in applied:
                        self._query(f"SET {name} = DEFAULT")
            except ClickHouseError:
                raise
            except Exception as error:  # chDB raises ChdbError (or RuntimeError) with ClickHouse's text
                message = str(error)
                found = ERROR_CODE.search(message)
                raise ClickHouseError(int(found.group(1)) if found else 1001, message) from None

    def _query(self, sql):
        self.session.query(sql, "TabSeparated")


def quote(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def with_infile(sql, path):
    found = INSERT_WITH_FORMAT.match(sql)
    if not found:
        raise ClickHouseError(62, "Code: 62. DB::Exception: the chDB front takes a body of rows only after `INSERT INTO ... FORMAT name`. (SYNTAX_ERROR)")
    return f"{found.group(1)} FROM INFILE {quote(path)} FORMAT {found.group(2)}"


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up (a test that is done, an insert timed out)
        # is normal here, not worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine = None
    spool_dir = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/ping" or path == "/":
            self.answer(200, b"Ok.\n")
        else:
            self.answer(404, b"There is no handle " + path.encode() + b"\n")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        args = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        body_file = tempfile.NamedTemporaryFile(dir=self.spool_dir, delete=False)
        try:
            with body_file:
                self.read_body(body_file)
            self.handle_query(args, body_file.name)
        except ClickHouseError as error:
            text = str(error).rstrip() + f" (version {self.engine.version})\n"
            self.answer(500, text.encode(), {"X-ClickHouse-Exception-Code": str(error.code)})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            os.unlink(body_file.name)

    def handle_query(self, args, body_path):
        for name in UNSUPPORTED:
            if args.get(name, "0") not in ("", "0"):
                raise ClickHouseError(1001, f"Code: 1001. the chDB front does not speak LZ4-framed bodies ({name}=1): use compression = \"none\"")
        params = {}
        content_type = self.headers.get("Content-Type", "")
        if "query" in args:
            sql = args["query"]
            infile = body_path if os.path.getsize(body_path) > 0 else None
        elif content_type.startswith("multipart/form-data"):
            with open(body_path, "rb") as f:
                fields = multipart_fields(content_type, f.read())
            sql = fields.pop("query", "")
            params = {k[len("param_"):]: v for k, v in fields.items() if k.startswith("param_")}
            infile = None
        else:
            with open(body_path, "rb") as f:
                sql = f.read().decode()
            infile = None
        settings = {k: v for k, v in args.items() if k not in NOT_SETTINGS and not k.startswith("param_")}
        params.update({k[len("param_"):]: v for k, v in args.items() if k.startswith("param_")})
        output_format = args.get("default_format") or "TabSeparated"
        database = args.get("database") or "default"
        data = self.engine.run(sql, database, settings, params, output_format, infile)
        self.answer(200, data, {"X-ClickHouse-Format": output_format})

    def read_body(self, out):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                copy(self.rfile, out, size)
                self.rfile.readline()
        else:
            copy(self.rfile, out, int(self.headers.get("Content-Length", "0")))

    def answer(self, status, body, headers=None):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def copy(source, out, size):
    while size > 0:
        block = source.read(min(size, 1 << 20))
        if not block:
            raise ConnectionResetError("the body ended early")
        out.write(block)
        size -= len(block)


def multipart_fields(content_type, body):
    """The fields of a `multipart/form-data` body as the crate writes it:
    `--B\r\nContent-Disposition: form-data; name="N"\r\n\r\nVALUE\r\n`
    per field, then `--B--`. Values are kept byte for byte."""
    boundary = MULTIPART_BOUNDARY.search(content_type)
    if not boundary:
        raise ClickHouseError(1001, "Code: 1001. multipart/form-data without a boundary")
    fields = {}
    for part in body.split(b"--" + boundary.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, value = part.partition(b"\r\n\r\n")
        name = MULTIPART_NAME.search(head)
        if name:
            fields[name.group(1).decode()] = value[:-2].decode() if value.endswith(b"\r\n") else value.decode()
    return fields


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="chDB data directory (one process at a time)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    options = parser.parse_args()
    os.makedirs(options.data, exist_ok=True)
    Handler.engine = Engine(options.data)
    # INSERT bodies wait here for chDB's INFILE, beside (not inside) its data.
    Handler.spool_dir = options.data.rstrip("/") + ".bodies"
    os.makedirs(Handler.spool_dir, exist_ok=True)
    server = Server(("127.0.0.1", options.port), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
