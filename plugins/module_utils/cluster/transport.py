# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP to the API server, over the connection pool of the official ``kubernetes`` client.

The generated API classes and the DynamicClient differ between client releases and the DynamicClient discovers
every API group on start; this layer needs only paths, verbs, content types and JSON, so it talks to the pool the
client builds from its ``Configuration`` (TLS, client certificates, proxy) and sends the client's bearer token.
Every request is logged in ``Transport.log`` so tests and benchmarks can count them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import time

from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    ApiError, AuthError, ConflictError, NotFoundError, UnreachableError)

try:
    from urllib.parse import urlencode, quote
except ImportError:  # pragma: no cover - Python 2 is not supported, but keep the import test quiet
    from urllib import urlencode, quote

try:
    import urllib3
    from kubernetes.client import rest as k8s_rest
except ImportError:  # reported by the module through missing_required_lib
    urllib3 = None
    k8s_rest = None

APPLY_CONTENT_TYPE = 'application/apply-patch+yaml'
MERGE_CONTENT_TYPE = 'application/merge-patch+json'
USER_AGENT = 'harvester.network-ansible'
# A server that is shedding load (API Priority and Fairness, max-requests-inflight) answers 429 with Retry-After; so
# may a 5xx during a restart. Wait as told and send again, as client-go does (kubernetes/client-go rest/request.go,
# checkWait: 429 or >= 500 carrying Retry-After; commit b18cdb5260e09d563f2773bfa4e534ef08df929d). The request was not
# served, so sending it again is safe for every verb.
RETRY_AFTER_ATTEMPTS = 6
RETRY_AFTER_DEFAULT = 1.0   # seconds, a 429 without a usable Retry-After
RETRY_AFTER_CAP = 10.0      # seconds, never wait longer than this for one answer


def quote_name(name):
    return quote(str(name), safe='')


def _status_message(body, fallback):
    if isinstance(body, dict) and body.get('message'):
        return body['message']
    return fallback


def retry_after(status, headers):
    """Seconds to wait before sending a request again, or None when the answer is final (see RETRY_AFTER_*)."""
    if status != 429 and status < 500:
        return None
    value = (headers or {}).get('Retry-After')
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        if status != 429:
            return None
        seconds = RETRY_AFTER_DEFAULT
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


class Transport(object):
    """One connection to one API server; ``request`` returns the decoded JSON body or raises a ClusterError."""

    def __init__(self, configuration, timeout=(10.0, 60.0)):
        self.configuration = configuration
        self.host = configuration.host.rstrip('/')
        self.timeout = timeout
        self._pool = k8s_rest.RESTClientObject(configuration).pool_manager
        self.log = []

    def _headers(self, content_type):
        headers = {'Accept': 'application/json', 'User-Agent': USER_AGENT}
        if content_type:
            headers['Content-Type'] = content_type
        token = self.configuration.get_api_key_with_prefix('authorization')
        if token:
            headers['Authorization'] = token
        return headers

    def request(self, method, path, query=None, body=None, content_type=None):
        """Send one request; ``query`` is a list of (name, value) pairs, ``body`` a JSON-able object."""
        url = self.host + path
        if query:
            url += '?' + urlencode([(k, v) for k, v in query if v is not None])
        data = None
        if body is not None:
            data = json.dumps(body).encode('utf-8')
            content_type = content_type or 'application/json'
        for attempt in range(RETRY_AFTER_ATTEMPTS):
            response = self._send(method, path, url, data, content_type)
            wait = retry_after(response.status, response.headers)
            if wait is None or attempt == RETRY_AFTER_ATTEMPTS - 1:
                break
            time.sleep(wait)
        raw = response.data or b''
        try:
            decoded = json.loads(raw.decode('utf-8')) if raw else {}
        except ValueError:
            decoded = {'message': raw.decode('utf-8', 'replace')[:500]}
        if 200 <= response.status < 300:
            return decoded
        raise self._error(method, path, response.status, response.reason, decoded)

    def _send(self, method, path, url, data, content_type):
        self.log.append((method, path))
        try:
            return self._pool.request(
                method, url, body=data, headers=self._headers(content_type), preload_content=True,
                timeout=urllib3.Timeout(connect=self.timeout[0], read=self.timeout[1]),
                retries=urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0, raise_on_status=False))
        except urllib3.exceptions.MaxRetryError as exc:
            raise self._unreachable(exc.reason or exc)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(exc)

    def _unreachable(self, exc):
        text = str(exc)
        if urllib3 is not None and isinstance(exc, urllib3.exceptions.SSLError) or 'SSL' in text or 'certificate' in text:
            hint = ('the TLS handshake failed: check ca_cert (or validate_certs), and that client_cert/client_key '
                    'are a pair the server accepts')
        elif 'timed out' in text.lower():
            hint = 'the connection timed out: check host and that the API server is up and reachable from here'
        else:
            hint = 'check host (or the kubeconfig server URL) and that the API server is running'
        return UnreachableError('cannot reach the Kubernetes API server at %s (%s): %s' % (self.host, text, hint),
                                field='host')

    def _credential(self):
        """The option that holds the credential this connection authenticates with."""
        if self.configuration.get_api_key_with_prefix('authorization'):
            return 'api_key'
        if getattr(self.configuration, 'cert_file', None):
            return 'client_cert'
        return 'kubeconfig'

    def _unauthorised(self):
        credential = self._credential()
        if credential == 'client_cert':
            what = ('the client certificate: it is not signed by a CA the server trusts, or it has expired. Check '
                    'client_cert/client_key (or the kubeconfig user)')
        elif credential == 'api_key':
            what = 'the bearer token: it is unknown, revoked or expired. Check api_key (or the kubeconfig user)'
        else:
            what = 'an anonymous request: give credentials (kubeconfig user, api_key or client_cert/client_key)'
        return AuthError('the API server at %s rejected %s (401 Unauthorized)' % (self.host, what), field=credential)

    def _error(self, method, path, status, reason, body):
        message = _status_message(body, reason or 'HTTP %s' % status)
        if status == 401:
            return self._unauthorised()
        if status == 403:
            return AuthError('not allowed: %s (403 Forbidden). Grant this user RBAC access to the resource, '
                             'or use credentials that have it' % message, field=self._credential())
        if status == 404:
            return NotFoundError(message, status=status, reason=reason, body=body)
        if status == 409:
            return ConflictError(message, status=status, reason=reason, body=body)
        if status == 429:
            return ApiError('%s %s failed (429 Too Many Requests): %s. The API server still shed this request after '
                            '%d attempts spaced as its Retry-After asked: run again when it is less busy'
                            % (method, path, message, RETRY_AFTER_ATTEMPTS), status=status, reason=reason, body=body)
        return ApiError('%s %s failed (%s %s): %s' % (method, path, status, reason, message), status=status,
                        reason=reason, body=body)
