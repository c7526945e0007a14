"""An HTTP server that keeps every connection it accepts, never closing one (socketserver
closes each after its request): what the hand-off programs leak on purpose."""
import http.server


def keeping(base, kept):
    """A subclass of the socketserver class base whose accepted connections go to kept."""

    class KeepingServer(base):
        def shutdown_request(self, request):
            kept.append(request)

    return KeepingServer


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass
