//! The data directory: created for the owner alone (0700), whoever starts Hearth.
//!
//! The process umask (set in `main`) makes every file in it 0600; this module makes the
//! directory itself private, and tightens one that an older Hearth created with the
//! default umask.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context as _;

/// Creates `dir` (and its parents) if needed and makes it readable by the owner only.
pub fn create(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("cannot read the data directory {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make the data directory {} private", dir.display()))?;
        tracing::info!(dir = %dir.display(), "made the data directory readable by its owner only");
    }
    Ok(())
}
