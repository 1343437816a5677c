// Package pki owns the hub cluster's certificate authority: creating and
// loading the CA (ECDSA P-256, files ca.crt and ca.key), issuing hub node
// certificates, signing agent CSRs during enrollment, writing key material to
// disk safely, and building the hub's server-side TLS configurations.
//
// Certificates follow the identity conventions of protocol/identity: agent
// certificates carry CN = agent ID, OU = ["branch:<branch>"], ClientAuth
// only; node certificates carry CN = node ID, OU = ["role:hub"], ServerAuth
// and ClientAuth, and the DNS and IP SANs given when they are issued. The CA
// has MaxPathLen 0: it signs leaves only, never intermediates.
//
// What this package must never do:
//
//   - Log, print, or put into an error or a String form any private key
//     (the CA's, a node's or an agent's). A *CA formats as its subject and
//     fingerprint only.
//   - Trust a CSR's subject, SANs or extensions: an agent's identity is
//     decided by the hub (from its enrollment token) and passed to
//     [CA.SignAgentCSR] as arguments; the CSR contributes only its public key,
//     after its self-signature has been checked.
//   - Overwrite an existing CA, or write a private key to a file that is, even
//     briefly, readable by anyone but its owner.
//   - Let a connection that did not present a verified client certificate
//     reach anything but the enrollment protocol.
//
// Revocation is not handled here: the TLS configurations verify chains only,
// and the hub's handlers decide, from [identity.AgentFromCert], whether an
// agent is still allowed.
package pki
