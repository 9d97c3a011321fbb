module dev.keepup {
  requires transitive jakarta.websocket;
  exports dev.keepup;
}
