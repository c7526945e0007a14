"""Connections accepted where no frame of this program's own is on the stack: an HTTP server's
accept loop (socketserver, the standard library alone) in a thread started with
_thread.start_new_thread, which fdleak does not follow. Each kept connection is named where its
listener was made (the marked line: the server built here), through the listener. Prints its
ground truth: FDLEAK_KEPT (the kept connections) and FDLEAK_OPEN (/proc/self/fd at its end)."""
import _thread
import http.server
import urllib.request

from groundtruth import open_fds
from keepserver import Handler, keeping

kept = []
httpd = keeping(http.server.HTTPServer, kept)(("127.0.0.1", 0), Handler)  # LEAK x3 via=listener
_thread.start_new_thread(httpd.serve_forever, ())
for _ in range(3):
    urllib.request.urlopen("http://127.0.0.1:%d/" % httpd.server_address[1]).close()
httpd.shutdown()
httpd.server_close()
print("FDLEAK_KEPT", " ".join(str(s.fileno()) for s in kept))
print("FDLEAK_OPEN", " ".join(map(str, open_fds())), flush=True)
