//! The rotated refresh token at rest, on SQLite and PostgreSQL: encrypted (no token bytes in the
//! database files or columns), read with the previous key after a rotation, written with the
//! current one, and a clear error for a key that doesn't fit.

use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, Statement};
use secrecy::{ExposeSecret, SecretString};
use tenantgraph::domain::RunStatus;
use tenantgraph::importer::Importer;
use tenantgraph::store::entities::partner_credential;
use tenantgraph::store::secrets::SealError;
use tenantgraph::store::{Store, StoreError, import_runs};

use crate::importer::{import_all, importer_for, settings_for, simulator, store_db};
use crate::support::{Backend, SECRET_KEY, TestApp, backends, keyring};

const KEY_B: &str = "4O1BEdJ3g/WrHj4W7TM5TcHosCWuNUBsI691BYSeWgQ=";
const KEY_C: &str = "R08TfrLX3seYNH79k+4OvxaA/EeygXUMVQdOmZmU6UA=";

/// The one row of `partner_credentials` for `client_id`.
async fn credential(store: &Store, client_id: &str) -> Option<partner_credential::Model> {
    partner_credential::Entity::find_by_id(client_id.to_owned())
        .one(&store_db(store).await)
        .await
        .unwrap()
}

/// What the database holds on disk and in `partner_credentials`: the SQLite file and its
/// write-ahead log; on PostgreSQL every column of the table and the table's heap file after a
/// checkpoint (dead row versions included).
async fn raw_database(store: &Store, backend: Backend) -> Vec<u8> {
    match backend {
        Backend::Sqlite => {
            let path = store
                .url()
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap()
                .to_owned();
            let mut bytes = std::fs::read(&path).unwrap();
            if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                bytes.extend(wal);
            }
            assert!(bytes.len() > 4096, "{path} read");
            bytes
        }
        Backend::Postgres => {
            let db = store_db(store).await;
            let query = |sql: &str| Statement::from_string(db.get_database_backend(), sql);
            let mut bytes = Vec::new();
            let rows = db
                .query_all_raw(query(
                    "SELECT client_id, refresh_token, configured_fingerprint, key_id, \
                     token_ciphertext, token_nonce FROM partner_credentials",
                ))
                .await
                .unwrap();
            assert!(!rows.is_empty());
            for row in rows {
                for column in [
                    "client_id",
                    "refresh_token",
                    "configured_fingerprint",
                    "key_id",
                ] {
                    let text: Option<String> = row.try_get("", column).unwrap();
                    bytes.extend(text.unwrap_or_default().into_bytes());
                }
                for column in ["token_ciphertext", "token_nonce"] {
                    let raw: Option<Vec<u8>> = row.try_get("", column).unwrap();
                    bytes.extend(raw.unwrap_or_default());
                }
            }
            db.execute_unprepared("CHECKPOINT").await.unwrap();
            let heap = db
                .query_one_raw(query(
                    "SELECT pg_read_binary_file(pg_relation_filepath('partner_credentials')) AS heap",
                ))
                .await
                .unwrap()
                .unwrap();
            let heap: Vec<u8> = heap.try_get("", "heap").unwrap();
            assert!(!heap.is_empty(), "the table's heap file was read");
            bytes.extend(heap);
            bytes
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn an_import_that_rotated_the_token_leaves_no_token_bytes_in_the_database() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 10).await;
        let importer = importer_for(&app.store, &sim).await;
        let runs = import_all(&importer).await;
        assert_eq!(runs[0].status, RunStatus::Succeeded, "{runs:?}");
        let client_id = &sim.config().client_id;
        let row = credential(&app.store, client_id).await.unwrap();
        let keys = keyring(SECRET_KEY, None);
        let rotated = import_runs::find_refresh_token(
            &app.store,
            &keys,
            client_id,
            &row.configured_fingerprint,
        )
        .await
        .unwrap()
        .unwrap();
        assert!(
            rotated.expose_secret().starts_with("sim-rt-"),
            "the simulator rotated the token"
        );
        let raw = raw_database(&app.store, backend).await;
        // Every refresh token the simulator issues starts with `sim-rt-`.
        for needle in [rotated.expose_secret(), "sim-rt-"] {
            assert!(
                !contains(&raw, needle.as_bytes()),
                "{backend:?}: token bytes in the database"
            );
        }
        assert!(contains(&raw, keys.current_key_id().as_bytes()));
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_row_written_under_the_previous_key_is_read_and_the_next_write_uses_the_current_one() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let a = keyring(SECRET_KEY, None);
        let token = |t: &str| SecretString::from(t.to_owned());
        import_runs::save_refresh_token(&app.store, &a, "app", "fp", &token("token-a"))
            .await
            .unwrap();
        let b_then_a = keyring(KEY_B, Some(SECRET_KEY));
        let read = import_runs::find_refresh_token(&app.store, &b_then_a, "app", "fp")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.expose_secret(), "token-a");
        let row = credential(&app.store, "app").await.unwrap();
        assert_eq!(row.key_id.as_deref(), Some(a.current_key_id()));

        import_runs::save_refresh_token(&app.store, &b_then_a, "app", "fp", &token("token-b"))
            .await
            .unwrap();
        let row = credential(&app.store, "app").await.unwrap();
        let b = keyring(KEY_B, None);
        assert_eq!(row.key_id.as_deref(), Some(b.current_key_id()));
        let read = import_runs::find_refresh_token(&app.store, &b, "app", "fp")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            read.expose_secret(),
            "token-b",
            "the previous key is no longer needed"
        );
    }
}

#[tokio::test]
async fn a_wrong_key_is_an_error_naming_the_previous_key_setting() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let a = keyring(SECRET_KEY, None);
        let secret = SecretString::from("token-a".to_owned());
        for client in ["app", "other-app"] {
            import_runs::save_refresh_token(&app.store, &a, client, "fp", &secret)
                .await
                .unwrap();
        }
        let err = import_runs::find_refresh_token(&app.store, &keyring(KEY_C, None), "app", "fp")
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Secret(SealError::UnknownKey { .. })),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("TENANTGRAPH_SECRET_KEY_PREVIOUS"),
            "{message}"
        );
        assert!(message.contains(a.current_key_id()), "{message}");

        // The same key id but a ciphertext that does not open: another row's (bound to its
        // client id), or an altered one.
        let other = credential(&app.store, "other-app").await.unwrap();
        let mut altered = other.token_ciphertext.clone().unwrap();
        altered[0] ^= 1;
        for ciphertext in [other.token_ciphertext.clone().unwrap(), altered] {
            partner_credential::Entity::update(partner_credential::ActiveModel {
                client_id: Set("app".to_owned()),
                token_ciphertext: Set(Some(ciphertext)),
                token_nonce: Set(other.token_nonce.clone()),
                ..Default::default()
            })
            .exec(&store_db(&app.store).await)
            .await
            .unwrap();
            let err = import_runs::find_refresh_token(&app.store, &a, "app", "fp")
                .await
                .unwrap_err();
            assert!(
                matches!(err, StoreError::Secret(SealError::Undecryptable { .. })),
                "{err:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_importer_falls_back_to_the_configured_token_when_the_stored_one_cant_be_decrypted() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 10).await;
        import_all(&importer_for(&app.store, &sim).await).await;
        let client_id = sim.config().client_id.clone();
        let first = credential(&app.store, &client_id).await.unwrap();

        // A new key without the old one as previous: the stored token can't be read.
        let mut settings = settings_for(&sim);
        settings.secrets.secret_key = Some(KEY_C.to_owned());
        let importer = Importer::new(
            app.store.clone(),
            settings.check().unwrap().importer().unwrap(),
        )
        .await
        .unwrap();
        let runs = import_all(&importer).await;
        assert_eq!(runs[0].status, RunStatus::Succeeded, "{runs:?}");
        let row = credential(&app.store, &client_id).await.unwrap();
        let c = keyring(KEY_C, None);
        assert_eq!(row.key_id.as_deref(), Some(c.current_key_id()));
        assert_ne!(row.token_ciphertext, first.token_ciphertext);
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_plaintext_row_from_before_encryption_is_encrypted_on_its_first_read() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let db = store_db(&app.store).await;
        for (client, fingerprint) in [("app", "fp"), ("old-app", "stale")] {
            partner_credential::Entity::insert(partner_credential::ActiveModel {
                client_id: Set(client.to_owned()),
                refresh_token: Set(format!("legacy-plain-{client}")),
                configured_fingerprint: Set(fingerprint.to_owned()),
                rotated_at: Set(chrono::Utc::now()),
                token_ciphertext: Set(None),
                token_nonce: Set(None),
                key_id: Set(None),
            })
            .exec_without_returning(&db)
            .await
            .unwrap();
        }
        let keys = keyring(SECRET_KEY, None);
        let read = import_runs::find_refresh_token(&app.store, &keys, "app", "fp")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.expose_secret(), "legacy-plain-app");
        let row = credential(&app.store, "app").await.unwrap();
        assert_eq!(row.refresh_token, "");
        assert_eq!(row.key_id.as_deref(), Some(keys.current_key_id()));
        let again = import_runs::find_refresh_token(&app.store, &keys, "app", "fp")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.expose_secret(), "legacy-plain-app");

        // A plaintext row of a token configured before the current one is of no use: deleted.
        let stale = import_runs::find_refresh_token(&app.store, &keys, "old-app", "current")
            .await
            .unwrap();
        assert!(stale.is_none());
        assert!(credential(&app.store, "old-app").await.is_none());
    }
}
