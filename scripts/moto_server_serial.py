"""moto_server, serving one request at a time.

moto's DynamoDB is not safe under its default threaded server: a
TransactWriteItems checks its conditions and applies its writes without a
lock, deep-copies the table for rollback while other threads change it
(HTTP 500 "dictionary changed size during iteration"), and a failed
transaction restores that copy, discarding writes other requests committed
meanwhile. Real DynamoDB serializes conflicting writes; serving requests one
at a time is how moto matches it, so conditional-write races behave as in AWS.

Usage: same arguments as moto_server (-H HOST -p PORT ...).
"""

import sys

import moto.server
import werkzeug.serving


def _run_serially(*args, **kwargs):
    kwargs["threaded"] = False
    return werkzeug.serving.run_simple(*args, **kwargs)


moto.server.run_simple = _run_serially

if __name__ == "__main__":
    sys.exit(moto.server.main(sys.argv[1:]))
