//! `whenly backup --to FILE` and `whenly restore --from FILE`.
//!
//! The database is the one thing to back up: the event nodes' sled stores are rebuilt from it
//! (a coordinator that finds answers missing on the nodes reports them and the server sends
//! them again; answers not yet acknowledged are sent by the reconciler), and the cluster
//! credentials are files that change only with `whenly cluster`.
//!
//! - SQLite: `VACUUM INTO` copies the database from one read transaction, so the copy is
//!   consistent while the server goes on writing (in WAL mode readers do not block the writer).
//! - MariaDB/MySQL: `mariadb-dump --single-transaction` reads every (InnoDB) table in one
//!   snapshot without locking writers; restore feeds the dump to the `mariadb` client. The
//!   password goes through the environment (`MYSQL_PWD`), not the command line others can read.
//!
//! A backup is written beside FILE, readable by its owner only (it holds password hashes,
//! sessions and the site's keys), synced, then renamed over it: FILE is always a whole backup,
//! and never the live database itself. A restore refuses a database that has tables (or a
//! SQLite file that exists, even one that appears while it copies), checks the backup is whole
//! first, and the server migrates it on start, so a backup of an older version restores too.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::ConnectOptions;

use super::AdminError;

/// What `mariadb-dump` writes last: a dump without it was cut short.
const DUMP_COMPLETED: &str = "-- Dump completed";
/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

pub async fn back_up(database_url: &str, to: &Path) -> Result<(), AdminError> {
    let mysql = MySqlTarget::parse(database_url)?;
    if mysql.is_none() {
        refuse_the_live_database(database_url, to)?;
    }
    let partial = partial_path(to);
    remove_if_there(&partial)?;
    private_empty_file(&partial)?;
    let written = match mysql {
        Some(target) => target.dump(&partial).await,
        None => vacuum_into(database_url, &partial).await,
    };
    if let Err(error) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    sync_file(&partial)?;
    std::fs::rename(&partial, to).map_err(|e| AdminError::File(to.to_owned(), e))?;
    sync_parent(to)?;
    let size = std::fs::metadata(to).map_err(|e| AdminError::File(to.to_owned(), e))?.len();
    println!("backed up to {} ({size} bytes)", to.display());
    Ok(())
}

pub async fn restore(database_url: &str, from: &Path) -> Result<(), AdminError> {
    let header = read_start(from)?;
    match MySqlTarget::parse(database_url)? {
        Some(target) => {
            if header.starts_with(SQLITE_HEADER) {
                return Err(AdminError::Refused(format!("{} is a SQLite backup: restore it with a sqlite:// database", from.display())));
            }
            check_dump_complete(from)?;
            target.load(from).await?;
        }
        None => {
            if !header.starts_with(SQLITE_HEADER) {
                return Err(AdminError::Refused(format!("{} is not a SQLite backup (a MariaDB dump restores into a mysql:// database)", from.display())));
            }
            restore_sqlite(database_url, from).await?;
        }
    }
    println!("restored {} into {}; start whenly on it (the event nodes are rebuilt from it)", from.display(), describe_target(database_url));
    Ok(())
}

/// Where a restore went, for the operator: the SQLite file's absolute path, or the database.
fn describe_target(database_url: &str) -> String {
    match MySqlTarget::parse(database_url) {
        Ok(Some(target)) => format!("database {} on {}:{}", target.database, target.host, target.port),
        _ => {
            let file = sqlite_file(database_url);
            std::path::absolute(&file).unwrap_or(file).display().to_string()
        }
    }
}

/// A backup written over the database it copies would replace it.
fn refuse_the_live_database(database_url: &str, to: &Path) -> Result<(), AdminError> {
    let resolve = |path: &Path| {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        match (path.parent().and_then(|parent| std::fs::canonicalize(parent).ok()), path.file_name()) {
            (Some(parent), Some(name)) => parent.join(name),
            _ => path,
        }
    };
    let live = resolve(&sqlite_file(database_url));
    let target = resolve(to);
    let name = |suffix: &str| PathBuf::from(format!("{}{suffix}", live.display()));
    if [name(""), name("-wal"), name("-shm"), name("-journal")].contains(&target) {
        return Err(AdminError::Refused(format!("{} is the live database: back up to another file", to.display())));
    }
    Ok(())
}

/// Creates `path` empty, readable and writable by its owner only (what is written into it
/// keeps that mode).
fn private_empty_file(path: &Path) -> Result<(), AdminError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map(|_| ()).map_err(|e| AdminError::File(path.to_owned(), e))
}

fn partial_path(to: &Path) -> PathBuf {
    let mut name = to.file_name().map(ToOwned::to_owned).unwrap_or_default();
    name.push(".partial");
    to.with_file_name(name)
}

fn remove_if_there(path: &Path) -> Result<(), AdminError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(AdminError::File(path.to_owned(), error)),
        _ => Ok(()),
    }
}

fn sync_file(path: &Path) -> Result<(), AdminError> {
    std::fs::File::open(path).and_then(|file| file.sync_all()).map_err(|e| AdminError::File(path.to_owned(), e))
}

/// Makes a rename in `path`'s directory durable.
fn sync_parent(path: &Path) -> Result<(), AdminError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    sync_file(parent)
}

fn read_start(path: &Path) -> Result<Vec<u8>, AdminError> {
    use std::io::Read;
    let mut start = Vec::with_capacity(SQLITE_HEADER.len());
    std::fs::File::open(path)
        .and_then(|file| file.take(SQLITE_HEADER.len() as u64).read_to_end(&mut start))
        .map_err(|e| AdminError::File(path.to_owned(), e))?;
    Ok(start)
}

fn check_dump_complete(path: &Path) -> Result<(), AdminError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| AdminError::File(path.to_owned(), e))?;
    let mut tail = String::new();
    let length = file.seek(SeekFrom::End(0)).map_err(|e| AdminError::File(path.to_owned(), e))?;
    file.seek(SeekFrom::Start(length.saturating_sub(256)))
        .and_then(|_| file.take(256).read_to_string(&mut tail))
        .map_err(|e| AdminError::File(path.to_owned(), e))?;
    if !tail.contains(DUMP_COMPLETED) {
        return Err(AdminError::Refused(format!("{} is not a whole mariadb-dump backup (no {DUMP_COMPLETED:?} at its end)", path.display())));
    }
    Ok(())
}

async fn vacuum_into(database_url: &str, partial: &Path) -> Result<(), AdminError> {
    let path = partial.to_str().ok_or_else(|| AdminError::Refused(format!("{} is not UTF-8", partial.display())))?;
    let options = SqliteConnectOptions::from_str(database_url)?.create_if_missing(false).read_only(true);
    let mut connection = options.connect().await?;
    sqlx::query("VACUUM INTO ?").bind(path).execute(&mut connection).await?;
    Ok(())
}

/// The SQLite file a `sqlite:` URL names.
fn sqlite_file(database_url: &str) -> PathBuf {
    let rest = database_url.strip_prefix("sqlite://").or_else(|| database_url.strip_prefix("sqlite:")).unwrap_or(database_url);
    PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

async fn restore_sqlite(database_url: &str, from: &Path) -> Result<(), AdminError> {
    let target = sqlite_file(database_url);
    for existing in [target.clone(), PathBuf::from(format!("{}-wal", target.display()))] {
        if existing.exists() {
            return Err(AdminError::Refused(format!("{} exists: restore goes into a data dir without a database", existing.display())));
        }
    }
    // Whole and a Whenly database, before it goes anywhere.
    let backup = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(from).read_only(true))
        .await?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&backup).await?;
    let migrated: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = '_sqlx_migrations'").fetch_one(&backup).await?;
    backup.close().await;
    if check != "ok" || migrated == 0 {
        return Err(AdminError::Refused(format!("{} is not a whole Whenly database ({check})", from.display())));
    }
    if let Some(parent) = target.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| AdminError::File(parent.to_owned(), e))?;
    }
    let partial = partial_path(&target);
    remove_if_there(&partial)?;
    private_empty_file(&partial)?;
    {
        let mut source = std::fs::File::open(from).map_err(|e| AdminError::File(from.to_owned(), e))?;
        let mut copy = std::fs::OpenOptions::new().write(true).open(&partial).map_err(|e| AdminError::File(partial.clone(), e))?;
        std::io::copy(&mut source, &mut copy).map_err(|e| AdminError::File(partial.clone(), e))?;
    }
    sync_file(&partial)?;
    // A link, not a rename: it fails rather than replace a database that appeared meanwhile
    // (a server started by its supervisor, say). Where there are no links, a copy into a file
    // that must be new.
    let placed = match std::fs::hard_link(&partial, &target) {
        Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => copy_into_new(&partial, &target),
        linked => linked,
    };
    let _ = std::fs::remove_file(&partial);
    placed.map_err(|e| AdminError::File(target.clone(), e))?;
    sync_file(&target)?;
    sync_parent(&target)
}

fn copy_into_new(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut target = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(to)?;
    std::io::copy(&mut std::fs::File::open(from)?, &mut target).map(|_| ())
}

/// A MariaDB/MySQL database, as its client tools are told to reach it.
struct MySqlTarget {
    url: String,
    host: String,
    port: u16,
    user: String,
    password: String,
    database: String,
}

impl MySqlTarget {
    /// `None` for a SQLite URL.
    fn parse(database_url: &str) -> Result<Option<Self>, AdminError> {
        let bad = |why: &str| AdminError::Refused(format!("cannot read the database URL: {why}"));
        let Some(rest) = database_url.strip_prefix("mysql://").or_else(|| database_url.strip_prefix("mariadb://")) else {
            return Ok(None);
        };
        let url = url::Url::parse(&format!("mysql://{rest}")).map_err(|e| bad(&e.to_string()))?;
        let decode = |text: &str| percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned();
        let database = decode(url.path().trim_start_matches('/'));
        if database.is_empty() || database.starts_with('-') {
            return Err(bad("no database name (or one starting with '-')"));
        }
        Ok(Some(Self {
            url: format!("mysql://{rest}"),
            // An IPv6 address without its URL brackets, as the client tools take it.
            host: url.host_str().unwrap_or("localhost").trim_start_matches('[').trim_end_matches(']').to_owned(),
            port: url.port().unwrap_or(3306),
            user: decode(url.username()),
            password: url.password().map(decode).unwrap_or_default(),
            database,
        }))
    }

    /// `tool` (or its older MySQL name) with the connection arguments.
    fn command(&self, tool: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(tool);
        command
            .arg(format!("--host={}", self.host))
            .arg(format!("--port={}", self.port))
            .arg(format!("--user={}", self.user))
            .arg("--protocol=TCP")
            .arg("--default-character-set=utf8mb4")
            .env("MYSQL_PWD", &self.password)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    async fn run(&self, tools: [&str; 2], configure: impl Fn(&mut tokio::process::Command)) -> Result<(), AdminError> {
        for tool in tools {
            let mut command = self.command(tool);
            configure(&mut command);
            let output = match command.output().await {
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(AdminError::Tool(format!("cannot run {tool}: {error}"))),
                Ok(output) => output,
            };
            if !output.status.success() {
                return Err(AdminError::Tool(format!("{tool} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim())));
            }
            return Ok(());
        }
        Err(AdminError::Tool(format!("neither {} nor {} is on the PATH (Debian: apt install mariadb-client)", tools[0], tools[1])))
    }

    async fn dump(&self, partial: &Path) -> Result<(), AdminError> {
        self.run(["mariadb-dump", "mysqldump"], |command| {
            command
                .args(["--single-transaction", "--quick", "--skip-lock-tables", "--no-tablespaces", "--hex-blob"])
                .arg(format!("--result-file={}", partial.display()))
                .arg(&self.database);
        })
        .await?;
        check_dump_complete(partial)
    }

    async fn load(&self, from: &Path) -> Result<(), AdminError> {
        let pool = sqlx::mysql::MySqlPoolOptions::new().max_connections(1).connect(&self.url).await?;
        let tables: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").fetch_one(&pool).await?;
        pool.close().await;
        if tables > 0 {
            return Err(AdminError::Refused(format!("database {} has {tables} tables: restore goes into an empty database", self.database)));
        }
        let file = std::fs::File::open(from).map_err(|e| AdminError::File(from.to_owned(), e))?;
        self.run(["mariadb", "mysql"], |command| {
            // Each attempt reads the file from its start.
            let input = file.try_clone().map(Stdio::from).unwrap_or_else(|_| Stdio::null());
            command.arg(format!("--database={}", self.database)).stdin(input);
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_mysql_url_with_an_encoded_password() {
        let target = MySqlTarget::parse("mysql://whenly:p%40ss%2Fword@db.example:3307/whenly_prod").unwrap().unwrap();
        assert_eq!((target.host.as_str(), target.port, target.user.as_str()), ("db.example", 3307, "whenly"));
        assert_eq!(target.password, "p@ss/word");
        assert_eq!(target.database, "whenly_prod");
        assert!(MySqlTarget::parse("sqlite://data/whenly.db").unwrap().is_none());
        assert!(MySqlTarget::parse("mysql://root@127.0.0.1").is_err(), "no database name");
        assert!(MySqlTarget::parse("mysql://root@127.0.0.1/-dash").is_err(), "a name that would read as an option");
        assert_eq!(MySqlTarget::parse("mysql://root@[::1]:3306/whenly").unwrap().unwrap().host, "::1");
    }

    #[test]
    fn a_backup_never_goes_over_the_live_database() {
        let dir = std::env::temp_dir().join(format!("whenly_backup_test_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/whenly.db", dir.display());
        for live in ["whenly.db", "whenly.db-wal", "whenly.db-shm"] {
            assert!(refuse_the_live_database(&url, &dir.join(live)).is_err(), "{live}");
            std::fs::create_dir_all(dir.join("sub")).unwrap();
            assert!(refuse_the_live_database(&url, &dir.join("sub/..").join(live)).is_err(), "{live} by another path");
        }
        assert!(refuse_the_live_database(&url, &dir.join("whenly.backup")).is_ok());
        let relative = format!("sqlite://{}", Path::new("data").join("whenly.db").display());
        assert!(refuse_the_live_database(&relative, Path::new("data/whenly.db")).is_err(), "relative paths too");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_sqlite_file_of_a_url() {
        assert_eq!(sqlite_file("sqlite://data/whenly.db"), PathBuf::from("data/whenly.db"));
        assert_eq!(sqlite_file("sqlite:///var/lib/whenly/whenly.db?mode=rwc"), PathBuf::from("/var/lib/whenly/whenly.db"));
    }
}
