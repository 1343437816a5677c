// Package identity owns the conventions that make a certificate mean "this is
// agent X of branch B" or "this is a hub node", and the material an agent
// needs to join a cluster: the CA fingerprint (pin), the enrollment token
// codec, the agent's key and CSR, and the client-side TLS configurations.
// Agent and hub both import it; it uses only the standard library and must
// never import agent, hub or plugin code.
//
// # Certificate identity
//
// Every certificate below is signed by the cluster CA (hub/pki); the fields
// are set by the hub and never copied from a requester's CSR.
//
//   - Agent: Subject CommonName = agent ID (for example "agt-3f2a91c0"),
//     Subject OrganizationalUnit = ["branch:" + branch], ExtKeyUsage =
//     [ClientAuth] only. Read with [AgentFromCert].
//   - Hub node: CommonName = node ID, OrganizationalUnit = ["role:hub"],
//     ExtKeyUsage = [ServerAuth, ClientAuth], DNS and IP SANs chosen when the
//     certificate is issued. Recognized with [IsHubCert].
//
// IDs and branch names follow [ValidateName]. [AgentFromCert] and [IsHubCert]
// only read fields: they must be applied to certificates whose chain has
// already been verified against the cluster CA (for example the peer
// certificates of a TLS connection configured by this package or hub/pki).
//
// # CA pin
//
// [Fingerprint] is the lowercase hex SHA-256 of the DER encoding of the whole
// CA certificate: 64 characters, no "sha256:" prefix. It plays the role of
// kubeadm's --discovery-token-ca-cert-hash, with one difference: kubeadm
// hashes only the CA's SubjectPublicKeyInfo, Vigil hashes the entire
// certificate, so re-issuing the CA certificate (even with the same key)
// changes the pin and invalidates outstanding tokens.
//
// # Enrollment token
//
// An enrollment token is a single printable string:
//
//	vigil1.<id>.<secret>.<pin>
//
// where:
//
//   - "vigil1" is the format name and version; any other version is refused.
//   - id: 8 characters of the lowercase RFC 4648 base32 alphabet (a-z, 2-7),
//     the encoding of 5 random bytes. It names the token on the hub and is
//     not secret.
//   - secret: 32 characters of the same alphabet, no padding, the encoding of
//     20 random bytes (160 bits).
//   - pin: the 64-character lowercase hex [Fingerprint] of the cluster CA.
//
// Example: vigil1.k3qz7x2a.mfrggzdfmztwq2lknnwg23tpobyxe43u.<64 hex chars>
//
// The hub stores only [Token.SecretHash], the hex SHA-256 of "<id>.<secret>",
// never the secret itself, and compares hashes with [ConstantTimeEqual]. A
// plain (unsalted, fast) hash is sufficient because the secret has 160 bits
// of entropy. During enrollment the agent trusts the hub only through the pin
// ([VerifyPinnedChain], [EnrollTLS]); the hub trusts the agent only through
// the secret.
//
// # What this package must never do
//
//   - Log, print or put into an error any private key, token secret or
//     token string. Errors about a malformed token describe what is wrong,
//     never echo the input. Use [Token.Redacted] when a token must be shown.
//   - Treat a CSR's subject or extensions as identity: identity is assigned by
//     the hub when it signs (hub/pki) and read back here from the certificate.
//   - Skip chain verification: the only configurations that disable Go's
//     built-in verification ([EnrollTLS], and [ClientTLS] with an empty server
//     name) replace it with an explicit verification against a single trust
//     anchor.
package identity
