// Where the tests' SMTP server (server/tests/support/smtp_server.py, aiosmtpd) listens and
// writes what it receives; shared by playwright.config.ts (which starts it) and the tests.
export const smtpPort = process.env.WHENLY_E2E_SMTP_PORT ?? "3125";
export const mailDir = `${process.env.WHENLY_E2E_DATA_DIR ?? "../target/e2e-data"}/mail`;
export const python = `${process.env.WHENLY_VENV ?? `${process.env.HOME}/.cache/whenly/venv`}/bin/python`;
