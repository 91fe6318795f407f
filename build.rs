// Rebuild when a migration is added: `embed_migrations!` reads the directory, which
// cargo does not watch by itself.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
