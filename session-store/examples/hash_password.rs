//! Prints an argon2id PHC hash (OWASP parameters) of the password read from stdin, for
//! `DEMO_USERS[].password_hash`:
//!
//! ```sh
//! printf '%s' 'the password' | cargo run -q --release -p session-store --example hash_password
//! ```
use std::io::Read;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let password = password.strip_suffix('\n').unwrap_or(&password);
    if password.is_empty() {
        return Err("empty password on stdin".into());
    }
    let salt: [u8; 16] = session_store::ids::random()?;
    let phc =
        session_store::password::hash(password, &salt, session_store::password::DEFAULT_PARAMS)
            .map_err(|e| e.to_string())?;
    println!("{phc}");
    Ok(())
}
