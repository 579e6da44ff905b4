"""Certificates for the test bed: a CA, the API server's serving certificate, a system:masters client
certificate and the service-account signing key, all made with the ``cryptography`` package.

ECDSA P-256 keys keep generation instant; kube-apiserver, Python's ssl module and Ansible accept them.
"""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The in-cluster names of the API server; 10.0.0.1 is the first address of the service range.
DEFAULT_SANS = ('127.0.0.1', 'localhost', '10.0.0.1', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc',
                'kubernetes.default.svc.cluster.local')


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name, organization=None):
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _san_entries(names):
    entries = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


def _write(path, data, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


class Pki:
    """Paths of the PEM files one control plane uses (all in one folder)."""

    def __init__(self, folder):
        self.folder = folder
        self.ca_cert = os.path.join(folder, 'ca.crt')
        self.ca_key = os.path.join(folder, 'ca.key')
        self.server_cert = os.path.join(folder, 'apiserver.crt')
        self.server_key = os.path.join(folder, 'apiserver.key')
        self.admin_cert = os.path.join(folder, 'admin.crt')
        self.admin_key = os.path.join(folder, 'admin.key')
        self.sa_key = os.path.join(folder, 'sa.key')
        self.sa_pub = os.path.join(folder, 'sa.pub')

    def read(self, attribute):
        """Return the bytes of one of the files, by attribute name (e.g. ``'admin_cert'``)."""
        with open(getattr(self, attribute), 'rb') as handle:
            return handle.read()


def make_pki(folder, sans=(), days=365):
    """Create a fresh CA, serving, admin and service-account key material in ``folder``.

    ``sans`` are extra names or IP addresses for the serving certificate (e.g. ``10.0.2.100`` for a
    QEMU guest that reaches the server through a forwarded port).
    """
    os.makedirs(folder, mode=0o700, exist_ok=True)
    pki = Pki(folder)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)

    ca_key = _key()
    ca_name = _name('harvester-network-testbed-ca')
    ca_cert = (x509.CertificateBuilder()
               .subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    _write(pki.ca_key, _key_pem(ca_key))
    _write(pki.ca_cert, _cert_pem(ca_cert), 0o644)

    def leaf(subject, usage, san_names=None):
        key = _key()
        builder = (x509.CertificateBuilder()
                   .subject_name(subject).issuer_name(ca_name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False, key_agreement=False,
                                                key_cert_sign=False, crl_sign=False, encipher_only=False,
                                                decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        if san_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(_san_entries(san_names)), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    names = list(DEFAULT_SANS) + [name for name in sans if name not in DEFAULT_SANS]
    key, cert = leaf(_name('kube-apiserver'), ExtendedKeyUsageOID.SERVER_AUTH, names)
    _write(pki.server_key, _key_pem(key))
    _write(pki.server_cert, _cert_pem(cert), 0o644)

    key, cert = leaf(_name('harvester-network-admin', 'system:masters'), ExtendedKeyUsageOID.CLIENT_AUTH)
    _write(pki.admin_key, _key_pem(key))
    _write(pki.admin_cert, _cert_pem(cert), 0o644)

    sa_key = _key()
    _write(pki.sa_key, _key_pem(sa_key))
    sa_pub = sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    _write(pki.sa_pub, sa_pub, 0o644)
    return pki
