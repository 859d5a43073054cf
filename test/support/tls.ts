import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificate {
  /** PEM private key. */
  key: string;
  /** PEM self-signed certificate, also the CA a client must trust to reach the server. */
  cert: string;
}

/*
 * Throwaway certificates made by the `openssl` CLI at test time (Node cannot issue X.509
 * certificates itself): no private key is ever committed.
 */

/** Runs openssl in a fresh temporary directory, and removes the directory after. */
function inTempDir<T>(work: (dir: string, openssl: (...args: string[]) => void) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "watchkeeper-tls-"));
  try {
    return work(dir, (...args) => {
      execFileSync("openssl", args, { stdio: "pipe", cwd: dir });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

const read = (dir: string, file: string) => readFileSync(join(dir, file), "utf8");

/** A self-signed certificate for 127.0.0.1 and localhost, valid for 2 days. */
export function selfSignedCertificate(): TestCertificate {
  return inTempDir((dir, openssl) => {
    openssl(
      ...["req", "-x509", ...EC_KEY, "-days", "2", "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", "key.pem", "-out", "cert.pem"],
    );
    return { key: read(dir, "key.pem"), cert: read(dir, "cert.pem") };
  });
}

/** A private certificate authority: its `cert` is the root a client passes as `ca`. */
export function privateCertificateAuthority(): TestCertificate {
  return inTempDir((dir, openssl) => {
    openssl(
      ...["req", "-x509", ...EC_KEY, "-days", "30", "-subj", "/CN=Watchkeeper test CA"],
      ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
      ...["-keyout", "ca.key", "-out", "ca.pem"],
    );
    return { key: read(dir, "ca.key"), cert: read(dir, "ca.pem") };
  });
}

export interface LeafOptions {
  /** Subject alternative names, e.g. `["DNS:service.test", "IP:127.0.0.1"]`. */
  altNames: readonly string[];
  /**
   * Validity from now, in days. A negative number makes a certificate that has already expired
   * (openssl sets its notAfter that many days from now, before its notBefore).
   */
  days: number;
}

/** A server certificate issued by `ca` (a `privateCertificateAuthority()`). */
export function issueCertificate(ca: TestCertificate, options: LeafOptions): TestCertificate {
  return inTempDir((dir, openssl) => {
    writeFileSync(join(dir, "ca.key"), ca.key);
    writeFileSync(join(dir, "ca.pem"), ca.cert);
    writeFileSync(
      join(dir, "ext.cnf"),
      `basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=${options.altNames.join(",")}\n`,
    );
    openssl("req", "-new", ...EC_KEY, "-subj", "/CN=test server", "-keyout", "key.pem", "-out", "req.csr");
    openssl(
      ...["x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key"],
      ...["-set_serial", `0x${randomBytes(8).toString("hex")}`, "-days", String(options.days)],
      ...["-extfile", "ext.cnf", "-out", "cert.pem"],
    );
    return { key: read(dir, "key.pem"), cert: read(dir, "cert.pem") };
  });
}
