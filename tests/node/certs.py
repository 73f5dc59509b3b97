"""Real X.509 certificates made in the test (``cryptography``): a CA, a server
certificate for 127.0.0.1/localhost, client certificates, and an unrelated CA."""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Issued:
    cert_pem: bytes
    key_pem: bytes
    cert_path: str = ""
    key_path: str = ""

    @property
    def fingerprint(self) -> str:
        cert = x509.load_pem_x509_certificate(self.cert_pem)
        return cert.fingerprint(hashes.SHA256()).hex()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class CA:
    def __init__(self, name: str = "esoc test CA"):
        self.key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name)).issuer_name(_name(name))
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, cn: str, server: bool = False) -> Issued:
        key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        b = (
            x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(self.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                  else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        if server:
            b = b.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        cert = b.sign(self.key, hashes.SHA256())
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))

    def write(self, folder: str, name: str = "ca.pem") -> str:
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(self.pem)
        return path


def write(issued: Issued, folder: str, name: str) -> Issued:
    os.makedirs(folder, exist_ok=True)
    issued.cert_path = os.path.join(folder, f"{name}.crt")
    issued.key_path = os.path.join(folder, f"{name}.key")
    with open(issued.cert_path, "wb") as f:
        f.write(issued.cert_pem)
    with open(issued.key_path, "wb") as f:
        f.write(issued.key_pem)
    return issued


class Pki:
    """Everything a TLS test needs, written under ``folder``."""

    def __init__(self, folder: str):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self.ca = CA()
        self.ca_path = self.ca.write(folder)
        self.server = write(self.ca.issue("esoc node", server=True), folder, "server")
        self.alice = write(self.ca.issue("alice's wallet"), folder, "alice")
        self.bob = write(self.ca.issue("bob's wallet"), folder, "bob")
        self.carol = write(self.ca.issue("carol's wallet"), folder, "carol")  # signed, not listed
        self.rogue_ca = CA("rogue CA")
        self.rogue_ca_path = self.rogue_ca.write(folder, "rogue-ca.pem")
        self.mallory = write(self.rogue_ca.issue("mallory"), folder, "mallory")  # another CA's
