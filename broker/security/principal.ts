/**
 * Who sent a request: Kafka's KafkaPrincipal, `{ type: 'User', name }`, as the default principal
 * builder makes it — `User:ANONYMOUS` on a connection that did not authenticate (PLAINTEXT, or SSL
 * without a client certificate), the SASL user name after SaslAuthenticate, or a TLS client
 * certificate's subject distinguished name in RFC 2253 form (`CN=alice,OU=eng,O=Example`, as
 * Java's X500Principal.getName() writes it: most specific RDN first). The authorizer sees a
 * request's principal through RequestContext.principal.
 */
import { X509Certificate } from 'node:crypto';

export interface KafkaPrincipal {
  readonly type: 'User';
  readonly name: string;
}

export const ANONYMOUS: KafkaPrincipal = Object.freeze({ type: 'User', name: 'ANONYMOUS' });

export function userPrincipal(name: string): KafkaPrincipal { return { type: 'User', name }; }

/** `User:alice`, as Kafka prints a principal (and as ACLs and super.users name it). */
export function principalString(p: KafkaPrincipal): string { return `${p.type}:${p.name}`; }

/**
 * The subject of a DER certificate as an RFC 2253 distinguished name. Node lists the subject's
 * attributes one per line in certificate order (least specific first, `C=...` before `CN=...`);
 * RFC 2253 reverses that order and escapes `,+"\<>;` and leading `#`/space and trailing space.
 */
export function subjectDistinguishedName(der: Buffer): string {
  const subject = new X509Certificate(der).subject;
  const rdns = subject.split('\n').filter((l) => l !== '').map((line) => {
    const eq = line.indexOf('=');
    return `${line.slice(0, eq)}=${escapeRfc2253(line.slice(eq + 1))}`;
  });
  return rdns.reverse().join(',');
}

function escapeRfc2253(value: string): string {
  let out = value.replace(/[,+"\\<>;]/g, (c) => `\\${c}`);
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out}`;
  if (out.endsWith(' ') && out.length > 1) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/** The principal of a TLS client certificate (DER), as Kafka's default SSL principal mapping names it. */
export function certificatePrincipal(der: Buffer): KafkaPrincipal {
  return userPrincipal(subjectDistinguishedName(der));
}
