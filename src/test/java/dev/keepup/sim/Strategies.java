package dev.keepup.sim;

import dev.keepup.PacedSender;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * The strategies the simulator compares, and the ways to add one.
 *
 * <p>Baselines (hand-written senders a user would otherwise write, all at the top rendition
 * unless adaptive):
 * <ul>
 *   <li>{@code await-each-send}: Tornado's {@code await write_message}, newest frame at the
 *       next deadline ({@link AwaitEachSend});
 *   <li>{@code fixed-rate}: Darnell's fair-rate loop, a frame every interval, async sends
 *       queued by the container without bound ({@link FixedRate});
 *   <li>{@code drop-oldest-512k}: Spring's {@code ConcurrentWebSocketSessionDecorator} with
 *       {@code OverflowStrategy.DROP} and a 512 KB buffer ({@link DropOldest});
 *   <li>{@code lag-to-quality}: Guacamole-like, send-to-completion lag mapped linearly to the
 *       rendition ({@link AwaitEachSend#lagToQuality}).
 * </ul>
 *
 * <p>keepup: {@code keepup} is {@link PacedSender} with the run's ladder and the default policy;
 * {@code keepup-throughput}, {@code keepup-delay} and {@code keepup-fixed} the other built-in
 * policies on the same ladder; {@code keepup-no-ladder} the sender without a ladder, served
 * the top rendition (the in-flight cap alone).
 *
 * <p>Your own configuration: {@link #keepup(String, UnaryOperator)} with any {@code
 * PacedSender.Builder} configurator, applied after the run's ladder is set (so it may change
 * anything, the ladder included; {@link #keepupOnLadder} for full control), or from the
 * command line a class named with {@code --configurator} (a {@code
 * UnaryOperator<PacedSender.Builder>}, or a {@code Function<SimLadder,
 * UnaryOperator<PacedSender.Builder>>}, likewise applied after the ladder) or with {@code
 * --policy} (an {@code AdaptationPolicy} implementation). See {@code docs/simulator.md}.
 */
public final class Strategies {
  private Strategies() {}

  /** The await-each-send baseline at the top rendition. */
  public static Strategy awaitEachSend() {
    return AwaitEachSend.fixed("await-each-send", -1);
  }

  /** The fixed-rate (Darnell) baseline at the top rendition. */
  public static Strategy fixedRate() {
    return new FixedRate("fixed-rate", -1);
  }

  /** The drop-oldest (Spring DROP) baseline at the top rendition with a buffer of {@code limitBytes}. */
  public static Strategy dropOldest(int limitBytes) {
    String label = limitBytes % 1024 == 0 ? (limitBytes / 1024) + "k" : String.valueOf(limitBytes);
    return new DropOldest("drop-oldest-" + label, -1, limitBytes);
  }

  /** The lag-to-quality (Guacamole-like) baseline: top rendition at 20 ms of send lag or less, bottom at 80 ms or more. */
  public static Strategy lagToQuality() {
    return AwaitEachSend.lagToQuality("lag-to-quality", 20, 80, 1.0 / 8);
  }

  /**
   * A {@link PacedSender} configured by {@code configurator}; the sender's rendition choice goes
   * to the source unchanged.
   */
  public static Strategy keepup(String name, UnaryOperator<PacedSender.Builder> configurator) {
    // The ladder first: without one the sender asks for rendition 0 throughout, and a user's
    // tweak of the default setup would quietly stream the cheapest rendition.
    return new KeepupStrategy(name, ladder -> b -> configurator.apply(withLadder(ladder).apply(b)),
        KeepupStrategy.PASS_THROUGH);
  }

  /** As {@link #keepup(String, UnaryOperator)}, for a configuration that depends on the run's ladder. */
  public static Strategy keepupOnLadder(String name, Function<SimLadder, UnaryOperator<PacedSender.Builder>> configurator) {
    return new KeepupStrategy(name, configurator, KeepupStrategy.PASS_THROUGH);
  }

  /**
   * A {@link PacedSender} without a ladder (it asks for rendition 0) served one rendition of
   * the run's ladder: {@code rendition} -1 for the top one.
   */
  public static Strategy keepupSingleRendition(String name, int rendition, UnaryOperator<PacedSender.Builder> configurator) {
    return new KeepupStrategy(name, ladder -> configurator, rendition < 0 ? KeepupStrategy.TOP : rendition);
  }

  /**
   * Gives a builder the run's ladder: the one place that converts a {@link SimLadder} into the
   * library's {@code Ladder}, with frame-rate steps at the encoder's rate and its fractions.
   */
  public static UnaryOperator<PacedSender.Builder> withLadder(SimLadder ladder) {
    dev.keepup.Ladder.Builder library = dev.keepup.Ladder.builder();
    for (int i = 0; i < ladder.size(); i++) {
      library.rendition("r" + i, Math.round(ladder.mbps(i) * 1e6));
    }
    // The library's default steps (30, 15, 10, 5, 2, 1) scaled to the encoder's rate: a ladder
    // at 30 fps gets exactly those; at 25 fps the policies must not cost renditions at 30.
    double fps = ladder.fps();
    dev.keepup.Ladder built = library.frameRates(fps, fps / 2, fps / 3, fps / 6, fps / 15, fps / 30).build();
    return builder -> builder.ladder(built);
  }

  /** Every built-in strategy, baselines first; the simulator's default set. */
  public static List<Strategy> builtIns() {
    List<Strategy> all = new ArrayList<>(List.of(
        awaitEachSend(),
        fixedRate(),
        dropOldest(512 * 1024),
        lagToQuality(),
        keepupSingleRendition("keepup-no-ladder", -1, UnaryOperator.identity())));
    all.add(keepupOnLadder("keepup-fixed", l -> b -> withLadder(l).apply(b)
        .policy(dev.keepup.AdaptationPolicy.fixed(l.top(), l.fps())).startRendition(l.top())));
    all.add(keepupOnLadder("keepup-throughput", l -> b -> withLadder(l).apply(b).policy(dev.keepup.AdaptationPolicy.throughputBased())));
    all.add(keepupOnLadder("keepup-delay", l -> b -> withLadder(l).apply(b).policy(dev.keepup.AdaptationPolicy.delayBased())));
    all.add(keepupOnLadder("keepup", l -> withLadder(l))); // the default policy
    return all;
  }

  /** The built-ins by name, in order. */
  public static Map<String, Strategy> byName() {
    Map<String, Strategy> map = new LinkedHashMap<>();
    for (Strategy s : builtIns()) {
      map.put(s.name(), s);
    }
    return map;
  }

  /**
   * A strategy from a class on the class path with a public no-arg constructor: either a {@code
   * UnaryOperator<PacedSender.Builder>} or a {@code Function<SimLadder,
   * UnaryOperator<PacedSender.Builder>>}; a new instance per run. Named {@code name}, or after
   * the class.
   *
   * @throws IllegalArgumentException if the class cannot be loaded or is neither
   */
  @SuppressWarnings("unchecked")
  public static Strategy fromConfiguratorClass(String className, String name) {
    Object probe = instantiate(className);
    String label = name != null ? name : "custom-" + simpleName(className);
    if (!(probe instanceof UnaryOperator<?>) && !(probe instanceof Function<?, ?>)) {
      throw new IllegalArgumentException(className + " is neither a UnaryOperator<PacedSender.Builder> nor a"
          + " Function<SimLadder, UnaryOperator<PacedSender.Builder>>");
    }
    // A fresh instance per run: runs go in parallel, and a configurator may keep state.
    return keepupOnLadder(label, ladder -> {
      Object instance = instantiate(className);
      UnaryOperator<PacedSender.Builder> user = instance instanceof UnaryOperator<?> op
          ? (UnaryOperator<PacedSender.Builder>) op
          : ((Function<SimLadder, UnaryOperator<PacedSender.Builder>>) instance).apply(ladder);
      // After the run's ladder, as for keepup(...): the user's class may still replace it.
      return builder -> user.apply(withLadder(ladder).apply(builder));
    });
  }

  /**
   * A strategy that gives the sender the run's ladder ({@link #withLadder}) and an instance of
   * {@code className} (public no-arg constructor; a new one per run) as its adaptation policy, through the builder's
   * {@code policy(...)} method.
   *
   * @throws IllegalArgumentException if the class cannot be loaded
   * @throws IllegalStateException if {@code PacedSender.Builder} has no {@code policy} method
   *     taking it
   */
  public static Strategy fromPolicyClass(String className, String name) {
    Object policy = instantiate(className);
    Method setter = null;
    for (Method m : PacedSender.Builder.class.getMethods()) {
      if (m.getName().equals("policy") && m.getParameterCount() == 1 && m.getParameterTypes()[0].isInstance(policy)) {
        setter = m;
      }
    }
    if (setter == null) {
      throw new IllegalStateException("PacedSender.Builder has no policy(...) method accepting " + className
          + " (is it an AdaptationPolicy?); use --configurator instead");
    }
    Method policySetter = setter;
    String label = name != null ? name : "policy-" + simpleName(className);
    return keepupOnLadder(label, ladder -> builder -> {
      PacedSender.Builder withLadder = withLadder(ladder).apply(builder);
      try {
        // A fresh instance per run: runs go in parallel, and a policy may keep state.
        return (PacedSender.Builder) policySetter.invoke(withLadder, instantiate(className));
      } catch (IllegalAccessException | InvocationTargetException e) {
        throw new IllegalStateException("cannot set policy " + className, e);
      }
    });
  }

  private static Object instantiate(String className) {
    try {
      Class<?> type = Class.forName(className, true, Strategies.class.getClassLoader());
      return type.getConstructor().newInstance();
    } catch (ReflectiveOperationException | LinkageError e) {
      throw new IllegalArgumentException("cannot instantiate " + className + " (public class with a public"
          + " no-arg constructor on the class path?): " + e, e);
    }
  }

  private static String simpleName(String className) {
    return className.substring(className.lastIndexOf('.') + 1);
  }
}
