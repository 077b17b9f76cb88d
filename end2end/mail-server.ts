import { resolve } from "node:path";

// Where the tests' SMTP server (server/tests/support/smtp_server.py, aiosmtpd) listens and
// writes what it receives; shared by playwright.config.ts (which starts it) and the tests.
export const smtpPort = process.env.WHENLY_E2E_SMTP_PORT ?? "3125";
// Absolute: the SMTP server runs from the repository root, the tests from end2end/.
export const mailDir = resolve(process.env.WHENLY_E2E_DATA_DIR ?? "../target/e2e-data", "mail");
export const python = `${process.env.WHENLY_VENV ?? `${process.env.HOME}/.cache/whenly/venv`}/bin/python`;
