"""WeCom (企业微信): until the WeCom capability supplies the real client, a record-only adapter."""
