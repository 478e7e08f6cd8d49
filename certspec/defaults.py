"""Built-in defaults and presets, each with the reason it is what it is."""

from __future__ import annotations

from typing import Any

BUILTIN_DEFAULTS: dict[str, Any] = {
    "type": "SSLServerAuthentication",  # New-SelfSignedCertificate's default -Type
    "key": {"algorithm": "rsa", "size": 2048},  # its default; Azure's minimum
    "signature_hash": "sha256",
    "validity": "1y",  # New-SelfSignedCertificate: one year
    "not_before": "10m",  # ...from ten minutes ago, to absorb clock skew
    "renew_before": "33%",  # cert-manager's default share of the lifetime
    "pfx": {"password": {"generate": 24}, "encryption": "tripledes-sha1", "chain": "full"},
    "exports": ["pfx", "pfx-base64", "thumbprint"],
    "key_rotation": "always",
}
AUTHORITY_DEFAULTS: dict[str, Any] = {
    "key": {"algorithm": "rsa", "size": 2048}, "signature_hash": "sha256", "validity": "10y",
    "not_before": "10m", "renew_before": "33%", "key_rotation": "always",
    "key_usage": ["digital_signature", "key_cert_sign", "crl_sign"],
}
AUTHORITY_FIELDS = ("key", "signature_hash", "validity", "not_before", "renew_before", "key_rotation")
PRESETS = {  # New-SelfSignedCertificate -Type: (key usage, EKU)
    "SSLServerAuthentication": (("digital_signature", "key_encipherment"), ("server_auth", "client_auth")),
    "CodeSigningCert": (("digital_signature",), ("code_signing",)),
    "DocumentEncryptionCert": (("key_encipherment", "data_encipherment"), ("document_encryption",)),
    "Custom": (("digital_signature", "key_encipherment"), ()),
}
EKU_OIDS = {
    "server_auth": "1.3.6.1.5.5.7.3.1", "client_auth": "1.3.6.1.5.5.7.3.2",
    "code_signing": "1.3.6.1.5.5.7.3.3", "email_protection": "1.3.6.1.5.5.7.3.4",
    "time_stamping": "1.3.6.1.5.5.7.3.8", "ocsp_signing": "1.3.6.1.5.5.7.3.9",
    "document_encryption": "1.3.6.1.4.1.311.80.1", "smart_card_logon": "1.3.6.1.4.1.311.20.2.2",
    "any": "2.5.29.37.0",
}
RSA_SIZES = (2048, 3072, 4096)
