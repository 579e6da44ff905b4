# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the cluster layer. Every message names what is wrong and what to do about it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ClusterError(Exception):
    """Base class: a failure the module reports with ``fail_json(msg=str(error))``."""

    def __init__(self, message, field=None, details=None):
        super(ClusterError, self).__init__(message)
        self.field = field
        self.details = details or {}

    def __str__(self):
        message = self.args[0]
        if self.field and not message.startswith(self.field):
            return '%s: %s' % (self.field, message)
        return message


class ValidationError(ClusterError):
    """Input refused before anything was sent to the cluster."""


class ConfigError(ClusterError):
    """The connection settings (kubeconfig, certificates, host) cannot be used."""


class UnreachableError(ClusterError):
    """The API server could not be reached (connection refused, DNS, TLS, timeout)."""


class AuthError(ClusterError):
    """The API server answered 401 or 403."""


class MissingApiError(ClusterError):
    """The cluster does not serve an API group/kind the task needs (CRD not installed)."""


class ApiError(ClusterError):
    """Any other non-2xx answer from the API server."""

    def __init__(self, message, status=None, reason=None, body=None, field=None):
        super(ApiError, self).__init__(message, field=field)
        self.status = status
        self.reason = reason
        self.body = body or {}


class ConflictError(ApiError):
    """409: a resourceVersion conflict or a server-side apply field-manager conflict."""


class NotFoundError(ApiError):
    """404."""


class InUseError(ClusterError):
    """The object is used by a running VM and must not be changed or deleted."""


class WaitTimeout(ClusterError):
    """A wait condition was not met in time."""
