//! GraphiQL's browser files, embedded at compile time: the bundles vendored from npm in
//! `assets/graphiql/dist` (versions and licenses in `assets/graphiql/README.md`) and the page's
//! own boot script and style beside this file. Nothing here reaches another host.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// One embedded file.
pub(super) struct Asset {
    /// Its name in the URL.
    pub(super) name: &'static str,
    /// Its `Content-Type`.
    pub(super) content_type: &'static str,
    /// Its content.
    pub(super) bytes: &'static [u8],
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// A file of `assets/graphiql/dist`, by name.
macro_rules! vendored {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/assets/graphiql/dist/",
                $name
            )),
        }
    };
}

/// Every file the page loads, and the licenses of the vendored ones.
const ASSETS: &[Asset] = &[
    vendored!("react.production.min.js", JAVASCRIPT),
    vendored!("react-dom.production.min.js", JAVASCRIPT),
    vendored!("graphiql.min.js", JAVASCRIPT),
    vendored!("graphiql.min.css", CSS),
    vendored!("plugin-explorer.umd.js", JAVASCRIPT),
    vendored!("plugin-explorer.css", CSS),
    vendored!("THIRD-PARTY-LICENSES.txt", TEXT),
    Asset {
        name: "boot.js",
        content_type: JAVASCRIPT,
        bytes: include_bytes!("boot.js"),
    },
    Asset {
        name: "page.css",
        content_type: CSS,
        bytes: include_bytes!("page.css"),
    },
];

/// The embedded file named `name`.
pub(super) fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

/// The first 16 hex digits of a SHA-256 over every file's name and content: part of the
/// files' URLs, so that a build with other files has other URLs and browsers may keep each
/// file for good.
pub(super) fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hash = Sha256::new();
        for asset in ASSETS {
            hash.update(asset.name.as_bytes());
            hash.update((asset.bytes.len() as u64).to_le_bytes());
            hash.update(asset.bytes);
        }
        hash.finalize()[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_found_by_its_name_and_not_empty() {
        for asset in ASSETS {
            let found = find(asset.name).unwrap();
            assert!(!found.bytes.is_empty(), "{} is empty", asset.name);
        }
        assert!(find("../Cargo.toml").is_none());
        assert!(find("graphiql.min.js.map").is_none());
    }

    #[test]
    fn the_version_is_sixteen_hex_digits() {
        let version = version();
        assert_eq!(version.len(), 16, "{version}");
        assert!(version.bytes().all(|b| b.is_ascii_hexdigit()), "{version}");
    }
}
