"""A recording TLS proxy in front of a bed's kube-apiserver: the witness of what a client sent and what the server
answered, independent of the client's own request log.

It terminates TLS with the bed's server certificate, forwards every request as the bed's admin user, and records
per request: verb, path, query, status, and for LIST answers the number of items and whether the server handed out a
``continue`` token. ``counts`` tallies requests by verb (GET split into discovery and object/list) for the
benchmarks. ``throttle(n)`` answers the next ``n`` writes itself with 429 Too Many Requests + Retry-After, without
forwarding them: the answer API Priority and Fairness gives a client when the server sheds load.

    proxy = RecordingProxy(server)
    kubeconfig = proxy.kubeconfig(server, path)   # a copy of the bed's kubeconfig that points at the proxy
    ...
    proxy.stop()
"""

import collections
import http.client
import http.server
import json
import ssl
import threading
from urllib.parse import parse_qs, urlsplit

import yaml

WRITE_VERBS = ('POST', 'PUT', 'PATCH', 'DELETE')


def verb_class(method, path):
    """The row a request is counted in: discovery GETs apart from object and list GETs."""
    if method != 'GET':
        return method
    if path.count('/') <= 3 or path.startswith(('/version', '/openapi')):
        return 'GET (discovery)'
    return 'GET (object/list)'


class RecordingProxy(object):
    """See the module docstring. ``requests`` is a list of dicts, in the order the answers were sent."""

    def __init__(self, server, record=True):
        self.counts = collections.Counter()
        self.requests = []
        self.record = record
        self._lock = threading.Lock()
        self._throttle = (0, '1')
        self._in_flight = 0
        self.max_writes_in_flight = 0  # the most writes the server was working on at one time
        upstream = ssl.create_default_context(cafile=server.pki.ca_cert)
        upstream.load_cert_chain(server.pki.admin_cert, server.pki.admin_key)
        proxy = self
        local = threading.local()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            # the answer goes out as headers, then body: with Nagle's algorithm on, the body waited for the client's
            # delayed ACK of the headers (~40 ms a request, which the benchmarks' wall times then carried)
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status, headers, data):
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in ('transfer-encoding', 'content-length', 'connection'):
                        self.send_header(key, value)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _forward(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else None
                parts = urlsplit(self.path)
                entry = {'method': self.command, 'path': parts.path, 'query': parse_qs(parts.query)}
                if self.command in WRITE_VERBS and proxy.take_throttle(entry):
                    data = json.dumps({'kind': 'Status', 'apiVersion': 'v1', 'status': 'Failure', 'code': 429,
                                       'reason': 'TooManyRequests',
                                       'message': 'too many requests, please try again later'}).encode()
                    proxy.note(entry, 429, None)  # before the answer: a reader after the client sees it
                    self._answer(429, [('Content-Type', 'application/json'), ('Retry-After', entry['retry_after'])],
                                 data)
                    return
                conn = getattr(local, 'conn', None)
                if conn is None:
                    conn = local.conn = http.client.HTTPSConnection('127.0.0.1', server.port, context=upstream,
                                                                    timeout=120)
                headers = dict((k, v) for k, v in self.headers.items() if k.lower() not in ('host', 'connection'))
                write = self.command in WRITE_VERBS
                if write:
                    proxy.writes_in_flight(1)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    if write:
                        proxy.writes_in_flight(-1)
                proxy.note(entry, resp.status, data)
                self._answer(resp.status, resp.getheaders(), data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        serving.load_cert_chain(server.pki.server_cert, server.pki.server_key)
        self.httpd.socket = serving.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def throttle(self, count, retry_after='1'):
        """Answer the next ``count`` writes with 429 and ``Retry-After: retry_after`` instead of forwarding them."""
        with self._lock:
            self._throttle = (count, retry_after)

    def writes_in_flight(self, step):
        with self._lock:
            self._in_flight += step
            self.max_writes_in_flight = max(self.max_writes_in_flight, self._in_flight)

    def take_throttle(self, entry):
        with self._lock:
            left, retry_after = self._throttle
            if left <= 0:
                return False
            self._throttle = (left - 1, retry_after)
        entry['retry_after'] = retry_after
        return True

    def note(self, entry, status, data):
        entry['status'] = status
        if self.record and entry['method'] == 'GET' and data and status == 200:
            try:
                answer = json.loads(data)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and isinstance(answer.get('items'), list):
                entry['items'] = len(answer['items'])
                entry['continue'] = bool((answer.get('metadata') or {}).get('continue'))
        with self._lock:
            self.counts[verb_class(entry['method'], entry['path'])] += 1
            if self.record:
                self.requests.append(entry)

    def clear(self):
        with self._lock:
            self.requests = []
            self.counts = collections.Counter()
            self.max_writes_in_flight = 0

    def kubeconfig(self, server, path):
        """Write a copy of ``server``'s kubeconfig that points at this proxy; returns ``path``."""
        with open(server.kubeconfig, encoding='utf-8') as handle:
            config = yaml.safe_load(handle)
        config['clusters'][0]['cluster']['server'] = 'https://127.0.0.1:%d' % self.port
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(config, handle)
        return str(path)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
