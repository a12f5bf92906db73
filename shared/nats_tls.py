"""A private CA and a server certificate for NATS over TLS, made once and reused (`ouro up --tls`).

    tls = ensure_tls(data_dir / "auth" / "tls")   # ca.pem, ca-key.pem, server.pem, server-key.pem
    nats.connect("tls://127.0.0.1:4222", tls=ssl.create_default_context(cafile=tls.ca))

Clients verify the server against `ca.pem` (hostname included: the certificate names localhost,
127.0.0.1 and `nats`, the compose/K8s service name, plus any `hosts` given). Keys are 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.nats_auth import Tls, write_private

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "nats", "nats.ouroboros.svc", "nats.ouroboros.svc.cluster.local")
VALID_DAYS = 825


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ouroboros"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def ensure_tls(tls_dir: Path, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> Tls:
    """The CA and server certificate under `tls_dir`, created on first use."""
    tls_dir = Path(tls_dir)
    tls = Tls(cert=tls_dir / "server.pem", key=tls_dir / "server-key.pem", ca=tls_dir / "ca.pem")
    if tls.cert.exists() and tls.key.exists() and tls.ca.exists():
        return tls
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("ouroboros CA")).issuer_name(_name("ouroboros CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name("nats")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_private(tls_dir / "ca-key.pem", _pem_key(ca_key))
    write_private(tls.key, _pem_key(key))
    write_private(tls.cert, cert.public_bytes(serialization.Encoding.PEM).decode())
    write_private(tls.ca, ca.public_bytes(serialization.Encoding.PEM).decode())
    return tls
