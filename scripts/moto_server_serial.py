"""moto_server, serving one request at a time, each response in one send().

Every moto the project starts (scripts/servers, the tests) runs through this file.

One request at a time: moto's DynamoDB is not safe under its default threaded
server. A TransactWriteItems checks its conditions and applies its writes
without a lock, deep-copies the table for rollback while other threads change
it (HTTP 500 "dictionary changed size during iteration"), and a failed
transaction restores that copy, discarding writes other requests committed
meanwhile. Real DynamoDB serializes conflicting writes; serving requests one at
a time is how moto matches it, so conditional writes stay atomic. The server
is threaded, but one lock admits one AWS request at a time into moto, for its
whole response. Only moto's own API (`/moto-api/`) bypasses the lock: its
recorder replays a recording by sending requests to this same server, which a
single-threaded server (or a held lock) would deadlock on.

Each response in one send(): werkzeug writes a response's header block and its
body with separate send() calls on an unbuffered socket. Terraform 1.11's AWS
SDK (smithy-go on Go's net/http) can close its own connection right after
reading the headers, when its request-writing goroutine drains an
already-closed request body and gets io.EOF; the body still in flight is lost
("decomposing response: ... use of closed network connection"). The SDK then
retries. A retried conditional PutItem of the state lock finds the lock it has
just taken and fails with ConditionalCheckFailedException, so Terraform
reports "state locked" by itself and never releases the lock: a spurious
orphan lock. Sending the whole response at once (headers and body, whatever
its size) leaves no gap between them, and those spurious conflicts go away.

Usage: same arguments as moto_server (-H HOST -p PORT ...).
"""

import io
import sys
import threading

import moto.server
import werkzeug.serving


class WholeResponseHandler(werkzeug.serving.WSGIRequestHandler):
    """Collects each response in memory and sends it with one sendall()."""

    def setup(self):
        super().setup()
        self._socket_wfile = self.wfile
        self.wfile = io.BytesIO()

    def run_wsgi(self):
        # An interim "100 Continue" must reach the client before the body is read.
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self._socket_wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            del self.headers["Expect"]
        super().run_wsgi()

    def finish(self):
        response = self.wfile.getvalue()
        self.wfile = self._socket_wfile
        if response:
            try:
                self.wfile.write(response)  # socketserver's _SocketWriter: one sendall()
            except OSError:
                pass  # the client went away; nothing left to tell it
        super().finish()


def one_request_at_a_time(app):
    """`app` behind one lock, held until its whole response is produced."""
    lock = threading.Lock()

    def serialised(environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/moto-api/"):
            return app(environ, start_response)
        with lock:
            return [b"".join(app(environ, start_response))]

    return serialised


def _run_serially(hostname, port, application, **kwargs):
    kwargs["threaded"] = True
    kwargs["request_handler"] = WholeResponseHandler
    return werkzeug.serving.run_simple(hostname, port, one_request_at_a_time(application), **kwargs)


moto.server.run_simple = _run_serially

if __name__ == "__main__":
    sys.exit(moto.server.main(sys.argv[1:]))
