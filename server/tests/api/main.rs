//! Integration tests of the HTTP surface. Every test body runs twice, on a fresh SQLite file
//! and on a fresh MariaDB database, against a real server bound to a loopback port.

mod accounts;
mod calendar_file;
mod edge;
mod event_page;
mod events;
mod find;
mod if_need_be;
mod live;
mod mail;
mod metrics;
mod notifications;
mod organizer;
mod outcomes;
mod server_functions;
mod site_package;
mod helpers;
