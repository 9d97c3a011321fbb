package dev.keepup;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Pins the module's public surface: a change to the exports must be a deliberate one. */
final class ModuleExportsTest {

  @Test
  void moduleDescriptor_exportsOnlyTheApiPackage() throws IOException, java.net.URISyntaxException {
    Path classes = Path.of(PacedSender.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path descriptor = classes.resolve("module-info.class");
    assertThat(descriptor).exists();
    ModuleDescriptor module;
    try (InputStream in = Files.newInputStream(descriptor)) {
      module = ModuleDescriptor.read(in);
    }
    assertThat(module.name()).isEqualTo("dev.keepup");
    Set<String> exports = module.exports().stream()
        .map(export -> export.source() + (export.isQualified() ? " to " + export.targets() : ""))
        .collect(Collectors.toSet());
    assertThat(exports).containsExactly("dev.keepup");
    assertThat(module.opens()).isEmpty();
    Set<String> requires = module.requires().stream()
        .map(ModuleDescriptor.Requires::name)
        .filter(name -> !name.equals("java.base"))
        .collect(Collectors.toSet());
    assertThat(requires).containsExactly("jakarta.websocket");
  }
}
