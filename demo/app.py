"""A small static-file WSGI app, the kind shmcache is for: every request
opens a file under DEMO_ROOT and hands it to the server with
wsgi.file_wrapper (gunicorn sends it with sendfile). It knows nothing of
shmcache; under the shim, its opens are served from the shared tier.
`make run` (bench/run-demo.sh) and `make bench` (bench/web.sh) serve it."""
import mimetypes
import os

ROOT = os.path.realpath(os.environ.get("DEMO_ROOT", "/srv/static"))


def app(environ, start_response):
    rel = environ.get("PATH_INFO", "/").lstrip("/")
    path = os.path.normpath(os.path.join(ROOT, rel))
    if not path.startswith(ROOT + os.sep):
        start_response("403 Forbidden", [("Content-Type", "text/plain")])
        return [b"forbidden\n"]
    try:
        f = open(path, "rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    size = os.fstat(f.fileno()).st_size
    ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(size))])
    wrapper = environ.get("wsgi.file_wrapper")
    return wrapper(f, 65536) if wrapper else iter(lambda: f.read(65536), b"")


if __name__ == "__main__":
    # Without gunicorn: the standard library's threaded WSGI server.
    import sys
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    class Threaded(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    make_server("127.0.0.1", int(sys.argv[1]), app, Threaded, Quiet).serve_forever()
