//! Link-time settings for the `firmgate` binary.

fn main() {
    // Relative relocations packed as DT_RELR (binutils ≥ 2.38, glibc ≥ 2.36): the loader reads a
    // few kilobytes instead of a 1.2 MB `.rela.dyn` table at every start, which is resident
    // memory and start-up time saved. Linux only; elsewhere the platform default stands.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
