//! `hearth chat`: a conversation in the terminal with the same core.

use std::io::Write as _;

use bot_core::{ChatRef, InboundMessage, Platform, ReplyEvent};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::config::Config;

/// Reads lines from stdin until EOF or `/quit`, printing answers as they stream.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let crate::Services {
        service,
        store,
        notes,
        mcp_stop,
    } = crate::build_service(&config, false, true).await?;
    if let Some(notes) = &notes {
        crate::index_notes_in_background(notes);
    }
    let user = whoami();
    println!(
        "Chatting with {} at {}. /help for commands, /quit or Ctrl-D to leave.",
        config.service.default_model,
        bot_core::model::redact_url(&config.model_url)
    );
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        print!("> ");
        std::io::stdout().flush()?;
        let Some(line) = lines.next_line().await? else {
            break;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" || line == "/exit" {
            break;
        }
        let mut events = service.handle(InboundMessage {
            platform: Platform::Terminal,
            chat: ChatRef {
                id: "terminal".into(),
                is_shared: false,
            },
            user_id: user.clone(),
            display_name: user.clone(),
            message_id: None,
            text: line.to_owned(),
            attachments: Vec::new(),
            reply_to: None,
            membership: None,
            // The terminal's own language (LANG=ko_KR.UTF-8 reads as Korean).
            locale: std::env::var("LANG").ok(),
        });
        let mut streamed = false;
        while let Some(event) = events.recv().await {
            match event {
                ReplyEvent::Started => {}
                ReplyEvent::Queued { position, .. } => println!("(queued, number {position})"),
                ReplyEvent::Status(status) => println!("({status})"),
                ReplyEvent::Transcript(text) => println!("🎙 «{text}»"),
                ReplyEvent::Delta(text) => {
                    streamed = true;
                    print!("{text}");
                    std::io::stdout().flush()?;
                }
                ReplyEvent::Finished { text, .. } => {
                    if streamed {
                        println!();
                    } else {
                        println!("{text}");
                    }
                }
                ReplyEvent::Confirm { id, prompt, .. } => {
                    println!("\n{prompt}");
                    print!("Run it? [y/N] ");
                    std::io::stdout().flush()?;
                    let answer = lines.next_line().await?.unwrap_or_default();
                    let yes = matches!(answer.trim().to_lowercase().as_str(), "y" | "yes");
                    let me = bot_core::UserKey::new(Platform::Terminal, &user);
                    service.decide(&id, &me, yes);
                }
                ReplyEvent::Failed { message } => println!("! {message}"),
                ReplyEvent::File { name, bytes, .. } => {
                    std::fs::write(&name, bytes)?;
                    println!("(saved {name})");
                }
            }
        }
    }
    service.shutdown(config.shutdown_grace).await;
    mcp_stop.cancel();
    store.flush_all()?;
    Ok(())
}

fn whoami() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "owner".into())
}
