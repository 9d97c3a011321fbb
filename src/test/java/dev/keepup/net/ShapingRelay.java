package dev.keepup.net;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A TCP relay on 127.0.0.1 that emulates a bandwidth-limited, optionally long, downlink in
 * front of a local server, for integration tests and benchmarks.
 *
 * <p>Every connection accepted on {@link #port()} is forwarded to the target address.
 * Client-to-server bytes ("uplink") pass unshaped. Server-to-client bytes ("downlink")
 * pass through a model of a bottleneck router followed by a wire:
 *
 * <ol>
 *   <li><b>Bounded queue.</b> The relay reads from the server only while the connection's
 *       queue holds fewer than {@link Builder#queueLimitBytes(int) queueLimitBytes} (default
 *       64 KiB). When it is full the relay stops reading, the relay's small receive buffer
 *       fills, the TCP window closes and the server's own kernel send buffer fills, which is
 *       how backpressure reaches a sender behind a congested link. An unbounded relay would
 *       instead drain the server at loopback speed and hide exactly the buffering the library
 *       has to cope with. 64 KiB is about 260 ms of queue at 2 Mbit/s: a modest router buffer,
 *       well short of the seconds a bloated one holds; raise it to emulate bufferbloat.
 *   <li><b>Token bucket</b> at {@link #setRateBitsPerSecond(long) the rate}, counting TCP
 *       payload bytes (no header overhead; a real link carrying the same payload runs about
 *       3-5% faster). Bytes leave the queue in writes of at most 4 KiB, each waiting until
 *       the bucket holds at least one full-size packet (1500 bytes) or the whole write if
 *       smaller, so at low rates data trickles out packet by packet as on a real link, and
 *       at high rates writes grow to absorb timer jitter.
 *   <li><b>Propagation delay</b> (default 0): a byte that leaves the bucket at time t is
 *       written to the client at t + delay. The delay line is not counted in the queue
 *       limit, so a long delay does not cap throughput below the rate (it holds rate x delay
 *       bytes, capped at 4 MiB, the order of a Linux TCP window, to bound memory when the
 *       rate is unlimited). All of the delay is on the downlink, so a 40 ms delay emulates a
 *       40 ms round trip as far as the server's acks (pings and pongs) are concerned.
 * </ol>
 *
 * <p>The bucket depth defaults to the larger of 16 KiB and 10 ms at the current rate. It must
 * hold at least a few writes so that a late wake-up (parkNanos overshoots by 50 us to a few
 * ms on a busy two-core machine) does not waste tokens, which would push the achieved rate
 * below the configured one; 10 ms of rate covers that at high rates. It also sets the burst a
 * connection gets after an idle period, about ten full-size packets, which is modest for real
 * access links (cable and cellular schedulers burst far more).
 *
 * <p>Socket buffers are kept small on purpose: the client-facing socket's send buffer is
 * 16 KiB and the server-facing socket's receive buffer is 16 KiB (Linux doubles both for its
 * bookkeeping). Bytes held there are invisible to the shaper: a large receive buffer would
 * silently add to the bottleneck queue, and a large send buffer would keep "delivering" to a
 * client that has stopped reading. The effective bottleneck buffer is therefore the queue
 * limit plus roughly 16-32 KiB. Both sockets set TCP_NODELAY, because Nagle's algorithm would
 * hold back the paced small writes and add up to a delayed-ack timeout to them.
 *
 * <p>Each connection has its own queue and bucket, as if every client sat behind its own
 * access link with the configured rate; rate changes and traces apply to all connections at
 * once. To give clients different links, start one relay per client.
 *
 * <p>Threads: one acceptor, three per connection (uplink copy, downlink reader, downlink
 * pacer), one while a trace is followed; all are daemon threads named
 * {@code shaping-relay-<port>-...}. A FIN from either side is passed on after the bytes before
 * it (half-close); an error or reset on either side closes both. {@link #close()} stops
 * accepting, closes every socket and joins the threads for at most two seconds. All public
 * methods are thread safe.
 */
public final class ShapingRelay implements AutoCloseable {

  /** The rate meaning "no shaping". */
  public static final long UNLIMITED = Long.MAX_VALUE;

  private static final int DEFAULT_QUEUE_LIMIT_BYTES = 64 * 1024;
  private static final int MIN_AUTO_BUCKET_BYTES = 16 * 1024;
  private static final long AUTO_BUCKET_NANOS = 10_000_000L;
  /** One full-size Ethernet packet: the smallest bucket that can pass a full packet. */
  private static final int PACKET_BYTES = 1500;
  private static final int MAX_WRITE_BYTES = 4096;
  private static final int READ_BYTES = 16 * 1024;
  private static final int DEFAULT_SOCKET_BUFFER_BYTES = 16 * 1024;
  private static final long MAX_DELAY_LINE_BYTES = 4L * 1024 * 1024;
  /** Upper bound on any park, so a lost wake-up costs at most this much. */
  private static final long MAX_PARK_NANOS = 50_000_000L;
  private static final int CONNECT_TIMEOUT_MILLIS = 5_000;
  private static final long JOIN_TIMEOUT_NANOS = 2_000_000_000L;

  private final InetSocketAddress target;
  private final long delayNanos;
  private final int fixedBucketBytes; // 0: derive from the rate
  private final int queueLimitBytes;
  private final int clientSendBufferBytes;
  private final int serverReceiveBufferBytes;
  private final ServerSocket listener;
  private final String name;

  private final CopyOnWriteArrayList<Connection> connections = new CopyOnWriteArrayList<>();
  private final CopyOnWriteArrayList<Thread> threads = new CopyOnWriteArrayList<>();
  private final AtomicLong downlinkBytes = new AtomicLong();
  private final AtomicLong uplinkBytes = new AtomicLong();
  private final AtomicInteger connectionIds = new AtomicInteger();
  private final Object rateLock = new Object();
  private final Object traceLock = new Object();

  private volatile long rateBitsPerSecond;
  private volatile boolean closed;
  private TraceFollower traceFollower; // guarded by traceLock

  private ShapingRelay(Builder b) throws IOException {
    this.target = b.target;
    this.delayNanos = b.delay.toNanos();
    this.fixedBucketBytes = b.bucketBytes;
    this.queueLimitBytes = b.queueLimitBytes;
    this.clientSendBufferBytes = b.clientSendBufferBytes;
    this.serverReceiveBufferBytes = b.serverReceiveBufferBytes;
    this.rateBitsPerSecond = b.rateBitsPerSecond;
    this.listener = new ServerSocket();
    try {
      listener.bind(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), 0));
    } catch (IOException e) {
      listener.close();
      throw e;
    }
    this.name = "shaping-relay-" + listener.getLocalPort();
    startThread(name + "-accept", this::acceptLoop);
  }

  /**
   * Starts configuring a relay to {@code target}, typically a WebSocket server on 127.0.0.1.
   *
   * @throws NullPointerException if {@code target} is null
   */
  public static Builder newBuilder(InetSocketAddress target) {
    return new Builder(Objects.requireNonNull(target, "target"));
  }

  /** The port on 127.0.0.1 that clients connect to. */
  public int port() {
    return listener.getLocalPort();
  }

  /** The address clients connect to: 127.0.0.1 and {@link #port()}. */
  public InetSocketAddress address() {
    return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
  }

  /** The current downlink rate in bit/s; {@link #UNLIMITED} when not shaping. */
  public long rateBitsPerSecond() {
    return rateBitsPerSecond;
  }

  /**
   * Changes the downlink rate of every connection, current and future, and stops a trace
   * started by {@link #followTrace}.
   *
   * <p>Takes effect at once: tokens earned so far are kept (at the old rate), pacing threads
   * are woken and recompute their wait. Zero models an outage (nothing passes);
   * {@link #UNLIMITED} turns shaping off.
   *
   * @throws IllegalArgumentException if {@code bitsPerSecond} is negative
   */
  public void setRateBitsPerSecond(long bitsPerSecond) {
    checkRate(bitsPerSecond);
    stopTrace();
    applyRate(bitsPerSecond);
  }

  /** Turns shaping off, as {@code setRateBitsPerSecond(UNLIMITED)}. */
  public void setUnlimited() {
    setRateBitsPerSecond(UNLIMITED);
  }

  /**
   * Replays {@code trace}, starting now: its first sample's rate applies at once, each later
   * sample's at its time (piecewise constant, see {@link BandwidthTrace}).
   *
   * <p>Replaces a trace already followed. Without {@code loop} the last sample's rate stays in
   * force at the end; with {@code loop} the replay wraps at {@link BandwidthTrace#duration()}
   * (a one-sample trace just sets its rate). Sample times are scheduled against the start,
   * not the previous change, so a late wake-up never accumulates drift. Rates are rounded to
   * whole bit/s.
   *
   * @throws IllegalStateException if the relay is closed
   */
  public void followTrace(BandwidthTrace trace, boolean loop) {
    Objects.requireNonNull(trace, "trace");
    synchronized (traceLock) {
      if (closed) {
        throw new IllegalStateException("relay is closed");
      }
      stopTrace();
      TraceFollower follower = new TraceFollower(trace, loop);
      follower.thread = startThread(name + "-trace", follower::run);
      traceFollower = follower;
    }
  }

  /** Stops following a trace, if one is followed; the rate in force stays. */
  public void stopTrace() {
    synchronized (traceLock) {
      TraceFollower follower = traceFollower;
      traceFollower = null;
      if (follower != null) {
        follower.stopped = true;
        LockSupport.unpark(follower.thread);
        joinQuietly(follower.thread, System.nanoTime() + JOIN_TIMEOUT_NANOS);
      }
    }
  }

  /** The propagation delay added to the downlink. */
  public Duration delay() {
    return Duration.ofNanos(delayNanos);
  }

  /** The per-connection limit of the downlink queue, in bytes. */
  public int queueLimitBytes() {
    return queueLimitBytes;
  }

  /** Downlink payload bytes written to clients so far, over all connections. */
  public long downlinkBytes() {
    return downlinkBytes.get();
  }

  /** Uplink payload bytes written to the server so far, over all connections. */
  public long uplinkBytes() {
    return uplinkBytes.get();
  }

  /** Every connection accepted so far, open or closed, in accept order. */
  public List<Connection> connections() {
    return List.copyOf(connections);
  }

  /**
   * Stops accepting, closes every connection (abortively: queued bytes are dropped) and
   * waits up to two seconds in total for the relay's threads to end. Idempotent.
   */
  @Override
  public void close() {
    synchronized (traceLock) {
      closed = true;
      stopTrace();
    }
    try {
      listener.close();
    } catch (IOException ignored) {
      // Nothing to do: the listener is being discarded.
    }
    for (Connection c : connections) {
      c.abort();
    }
    long deadline = System.nanoTime() + JOIN_TIMEOUT_NANOS;
    for (Thread t : threads) {
      if (t != Thread.currentThread()) {
        joinQuietly(t, deadline);
      }
    }
  }

  @Override
  public String toString() {
    long rate = rateBitsPerSecond;
    return "ShapingRelay[127.0.0.1:" + port() + " -> " + target + ", "
        + (rate == UNLIMITED ? "unlimited" : rate + " bit/s") + ", delay "
        + delay().toMillis() + " ms, queue " + queueLimitBytes + " B]";
  }

  private static void checkRate(long bitsPerSecond) {
    if (bitsPerSecond < 0) {
      throw new IllegalArgumentException("rateBitsPerSecond must be >= 0: " + bitsPerSecond);
    }
  }

  private void applyRate(long bitsPerSecond) {
    synchronized (rateLock) {
      rateBitsPerSecond = bitsPerSecond;
      long now = System.nanoTime();
      for (Connection c : connections) {
        c.bucket.setRate(bitsPerSecond, now);
        LockSupport.unpark(c.pacer);
      }
    }
  }

  private void acceptLoop() {
    while (!closed) {
      Socket client;
      try {
        client = listener.accept();
      } catch (IOException e) {
        return; // closed, or the listener is broken: either way no more connections
      }
      if (closed) {
        closeQuietly(client);
        return;
      }
      Connection c;
      synchronized (rateLock) {
        // Under the rate lock, so a concurrent rate change either precedes the bucket's
        // creation or finds the connection in the list.
        TokenBucket bucket =
            new TokenBucket(rateBitsPerSecond, fixedBucketBytes, System.nanoTime());
        c = new Connection(connectionIds.incrementAndGet(), client, bucket);
        connections.add(c);
      }
      if (closed) {
        c.abort(); // close() may have walked the list before the add
        return;
      }
      startThread(name + "-c" + c.id + "-uplink", c::runUplink);
    }
  }

  private Thread startThread(String threadName, Runnable body) {
    Thread t = new Thread(() -> {
      try {
        body.run();
      } finally {
        threads.remove(Thread.currentThread());
      }
    }, threadName);
    t.setDaemon(true);
    threads.add(t);
    t.start();
    return t;
  }

  private static void joinQuietly(Thread t, long deadlineNanos) {
    if (t == null || t == Thread.currentThread()) {
      return;
    }
    long left = deadlineNanos - System.nanoTime();
    if (left <= 0) {
      return;
    }
    try {
      t.join(Math.max(1, left / 1_000_000));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void closeQuietly(Socket s) {
    if (s == null) {
      return;
    }
    try {
      s.close();
    } catch (IOException ignored) {
      // Closing is best effort: the peer learns of it either way.
    }
  }

  /** A live view of one relayed connection's counters. */
  public final class Connection {
    private final int id;
    private final Socket client;
    private volatile Socket server;
    private volatile Thread reader;
    private volatile Thread pacer;
    private final TokenBucket bucket;
    private final ConcurrentLinkedQueue<Chunk> queue = new ConcurrentLinkedQueue<>();
    private final AtomicLong queued = new AtomicLong();
    private final AtomicLong inPropagation = new AtomicLong();
    private final AtomicLong down = new AtomicLong();
    private final AtomicLong up = new AtomicLong();
    private volatile boolean serverEof;
    private volatile boolean aborted;
    private boolean uplinkDone; // guarded by this
    private boolean downlinkDone; // guarded by this

    private Connection(int id, Socket client, TokenBucket bucket) {
      this.id = id;
      this.client = client;
      this.bucket = bucket;
    }

    /** 1 for the first connection accepted, then 2, 3, ... */
    public int id() {
      return id;
    }

    /** Downlink payload bytes written to this client so far. */
    public long downlinkBytes() {
      return down.get();
    }

    /** Uplink payload bytes written to the server for this client so far. */
    public long uplinkBytes() {
      return up.get();
    }

    /** Bytes read from the server and waiting in the bottleneck queue; at most the limit. */
    public long queuedBytes() {
      return queued.get();
    }

    /** Bytes past the bucket and waiting out the propagation delay. */
    public long inPropagationBytes() {
      return inPropagation.get();
    }

    /** False once both directions have finished or the connection was torn down. */
    public boolean isOpen() {
      return !aborted;
    }

    @Override
    public String toString() {
      return "Connection[" + id + ", down " + down.get() + " B, up " + up.get() + " B, queued "
          + queued.get() + " B" + (aborted ? ", closed" : "") + "]";
    }

    /** Connects to the server, starts the downlink threads, then copies the uplink. */
    private void runUplink() {
      try {
        client.setSendBufferSize(clientSendBufferBytes);
        client.setTcpNoDelay(true);
        Socket s = new Socket();
        // Before connect, so the advertised window (and its scale) reflects the small buffer.
        s.setReceiveBufferSize(serverReceiveBufferBytes);
        s.setTcpNoDelay(true);
        server = s;
        if (aborted) { // abort() may have run before server was visible to it
          closeQuietly(s);
          return;
        }
        s.connect(target, CONNECT_TIMEOUT_MILLIS);
        pacer = startThread(name + "-c" + id + "-downlink-pace", this::runPacer);
        reader = startThread(name + "-c" + id + "-downlink-read", this::runReader);
        InputStream in = client.getInputStream();
        OutputStream out = s.getOutputStream();
        byte[] buf = new byte[READ_BYTES];
        int n;
        while ((n = in.read(buf)) >= 0) {
          out.write(buf, 0, n);
          up.addAndGet(n);
          uplinkBytes.addAndGet(n);
        }
        s.shutdownOutput();
        finished(true);
      } catch (IOException e) {
        abort();
      } catch (RuntimeException e) {
        abort();
        throw e;
      }
    }

    private void runReader() {
      try {
        InputStream in = server.getInputStream();
        byte[] buf = new byte[READ_BYTES];
        while (true) {
          long space;
          while ((space = queueLimitBytes - queued.get()) <= 0) {
            if (aborted) {
              return;
            }
            LockSupport.parkNanos(this, MAX_PARK_NANOS);
          }
          // Never read more than fits: the queue limit is a hard bound, as in a router.
          int n = in.read(buf, 0, (int) Math.min(buf.length, space));
          if (n < 0) {
            break;
          }
          queued.addAndGet(n);
          queue.add(new Chunk(Arrays.copyOf(buf, n)));
          LockSupport.unpark(pacer);
        }
        serverEof = true;
        LockSupport.unpark(pacer);
      } catch (IOException e) {
        abort();
      } catch (RuntimeException e) {
        abort();
        throw e;
      }
    }

    /**
     * Moves bytes from the queue through the bucket into the delay line, and writes them to
     * the client when due. One thread does both so that a client that stops reading blocks
     * the shaper too: the queue then fills and backpressure reaches the server.
     */
    private void runPacer() {
      ArrayDeque<Chunk> line = new ArrayDeque<>();
      try {
        OutputStream out = client.getOutputStream();
        while (!aborted) {
          long now = System.nanoTime();
          Chunk due = line.peek();
          if (due != null && due.dueNanos - now <= 0) {
            line.poll();
            inPropagation.addAndGet(-due.length());
            write(out, due.data, due.offset, due.length());
            continue;
          }
          boolean eof = serverEof; // read before the queue: all chunks precede the flag
          Chunk head = queue.peek();
          long wait = MAX_PARK_NANOS;
          if (head != null && inPropagation.get() < MAX_DELAY_LINE_BYTES) {
            int want = Math.min(head.end - head.offset, MAX_WRITE_BYTES);
            int atLeast = Math.min(want, PACKET_BYTES);
            int granted = bucket.take(want, atLeast, now);
            if (granted > 0) {
              int offset = head.offset;
              head.offset += granted;
              if (head.offset == head.end) {
                queue.poll();
              }
              queued.addAndGet(-granted);
              LockSupport.unpark(reader);
              if (delayNanos == 0) {
                write(out, head.data, offset, granted);
              } else {
                line.add(new Chunk(head.data, offset, offset + granted, now + delayNanos));
                inPropagation.addAndGet(granted);
              }
              continue;
            }
            wait = bucket.nanosUntil(atLeast, now);
          } else if (head == null && eof && line.isEmpty()) {
            client.shutdownOutput();
            finished(false);
            return;
          }
          if (due != null) {
            wait = Math.min(wait, due.dueNanos - now);
          }
          LockSupport.parkNanos(this, Math.max(1_000, Math.min(wait, MAX_PARK_NANOS)));
        }
      } catch (IOException e) {
        abort();
      } catch (RuntimeException e) {
        abort();
        throw e;
      }
    }

    private void write(OutputStream out, byte[] data, int offset, int length) throws IOException {
      out.write(data, offset, length);
      down.addAndGet(length);
      downlinkBytes.addAndGet(length);
    }

    private void finished(boolean uplink) {
      boolean both;
      synchronized (this) {
        if (uplink) {
          uplinkDone = true;
        } else {
          downlinkDone = true;
        }
        both = uplinkDone && downlinkDone;
      }
      if (both) {
        abort(); // both FINs passed on: nothing is left to relay, release the sockets
      }
    }

    private void abort() {
      aborted = true;
      closeQuietly(client);
      closeQuietly(server);
      LockSupport.unpark(reader);
      LockSupport.unpark(pacer);
    }
  }

  /** Bytes of one read from the server; in the delay line, a slice with its due time. */
  private static final class Chunk {
    final byte[] data;
    final int end;
    final long dueNanos;
    int offset; // advanced by the pacer only

    Chunk(byte[] data) {
      this(data, 0, data.length, 0);
    }

    Chunk(byte[] data, int offset, int end, long dueNanos) {
      this.data = data;
      this.offset = offset;
      this.end = end;
      this.dueNanos = dueNanos;
    }

    int length() {
      return end - offset;
    }
  }

  /** A token bucket in bytes; synchronized because rate changes come from other threads. */
  private static final class TokenBucket {
    private final int fixedDepth;
    private long rate;
    private double depth;
    private double tokens;
    private long lastNanos;

    TokenBucket(long rate, int fixedDepth, long now) {
      this.fixedDepth = fixedDepth;
      this.rate = rate;
      this.depth = depthFor(rate);
      this.tokens = depth; // starts full, as a link that has been idle
      this.lastNanos = now;
    }

    private double depthFor(long r) {
      if (fixedDepth > 0) {
        return fixedDepth;
      }
      if (r == UNLIMITED) {
        return MIN_AUTO_BUCKET_BYTES;
      }
      return Math.max(MIN_AUTO_BUCKET_BYTES, r / 8.0 * AUTO_BUCKET_NANOS / 1e9);
    }

    synchronized void setRate(long newRate, long now) {
      boolean wasUnlimited = rate == UNLIMITED;
      refill(now); // tokens earned up to now are earned at the old rate
      rate = newRate;
      depth = depthFor(newRate);
      tokens = wasUnlimited ? depth : Math.min(tokens, depth);
    }

    /** Grants up to {@code want} bytes if at least {@code atLeast} are available, else 0. */
    synchronized int take(int want, int atLeast, long now) {
      if (rate == UNLIMITED) {
        return want;
      }
      refill(now);
      if (tokens < atLeast) {
        return 0;
      }
      int granted = (int) Math.min(want, Math.floor(tokens));
      tokens -= granted;
      return granted;
    }

    /** How long until {@code bytes} tokens are available; {@code Long.MAX_VALUE} at rate 0. */
    synchronized long nanosUntil(int bytes, long now) {
      if (rate == UNLIMITED) {
        return 0;
      }
      refill(now);
      double missing = bytes - tokens;
      if (missing <= 0) {
        return 0;
      }
      if (rate == 0) {
        return Long.MAX_VALUE;
      }
      return (long) Math.ceil(missing * 8e9 / rate);
    }

    private void refill(long now) {
      long elapsed = now - lastNanos;
      if (elapsed > 0) {
        if (rate != UNLIMITED && rate > 0) {
          tokens = Math.min(depth, tokens + elapsed * (double) rate / 8e9);
        }
        lastNanos = now;
      }
    }
  }

  /** Applies a trace's rates at their times. */
  private final class TraceFollower {
    private final List<BandwidthTrace.Sample> samples;
    private final long durationNanos;
    private final boolean loop;
    volatile boolean stopped;
    volatile Thread thread;

    TraceFollower(BandwidthTrace trace, boolean loop) {
      this.samples = trace.samples();
      this.durationNanos = trace.duration().toNanos();
      this.loop = loop && durationNanos > 0;
    }

    void run() {
      // In a loop the last sample lasts zero seconds: the next cycle's first sample
      // replaces it at the same instant, so it is skipped rather than flickered.
      int count = loop ? samples.size() - 1 : samples.size();
      long cycleStart = System.nanoTime();
      do {
        for (int i = 0; i < count; i++) {
          BandwidthTrace.Sample s = samples.get(i);
          if (!parkUntil(cycleStart + Math.round(s.timeSeconds() * 1e9))) {
            return;
          }
          applyRate(Math.round(s.mbitPerSecond() * 1e6));
        }
        cycleStart += durationNanos;
      } while (loop && !stopped);
    }

    private boolean parkUntil(long deadline) {
      while (!stopped) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return true;
        }
        LockSupport.parkNanos(this, left);
      }
      return false;
    }
  }

  /**
   * Configures a {@link ShapingRelay}; every option is validated when set.
   *
   * <p>Not thread safe; {@link #start()} may be called more than once for identical relays.
   */
  public static final class Builder {
    private final InetSocketAddress target;
    private long rateBitsPerSecond = UNLIMITED;
    private Duration delay = Duration.ZERO;
    private int bucketBytes; // 0: derive from the rate
    private int queueLimitBytes = DEFAULT_QUEUE_LIMIT_BYTES;
    private int clientSendBufferBytes = DEFAULT_SOCKET_BUFFER_BYTES;
    private int serverReceiveBufferBytes = DEFAULT_SOCKET_BUFFER_BYTES;

    private Builder(InetSocketAddress target) {
      this.target = target;
    }

    /**
     * The initial downlink rate in bit/s; default {@link #UNLIMITED}.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder rateBitsPerSecond(long bitsPerSecond) {
      checkRate(bitsPerSecond);
      this.rateBitsPerSecond = bitsPerSecond;
      return this;
    }

    /** No initial shaping (the default). */
    public Builder unlimited() {
      this.rateBitsPerSecond = UNLIMITED;
      return this;
    }

    /**
     * One-way propagation delay added to the downlink; default zero.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder delay(Duration delay) {
      Objects.requireNonNull(delay, "delay");
      if (delay.isNegative()) {
        throw new IllegalArgumentException("delay must be >= 0: " + delay);
      }
      this.delay = delay;
      return this;
    }

    /**
     * A fixed token-bucket depth in bytes; default the larger of 16 KiB and 10 ms at the
     * current rate, recomputed when the rate changes (see the class comment for why).
     *
     * @throws IllegalArgumentException if below 1500 (one full-size packet could never pass)
     */
    public Builder bucketBytes(int bytes) {
      if (bytes < PACKET_BYTES) {
        throw new IllegalArgumentException("bucketBytes must be >= " + PACKET_BYTES + ": " + bytes);
      }
      this.bucketBytes = bytes;
      return this;
    }

    /**
     * The per-connection bound of the downlink queue, in bytes; default 64 KiB.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder queueLimitBytes(int bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("queueLimitBytes must be >= 1: " + bytes);
      }
      this.queueLimitBytes = bytes;
      return this;
    }

    /**
     * SO_SNDBUF of the client-facing sockets; default 16 KiB (the kernel may round it).
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder clientSendBufferBytes(int bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("clientSendBufferBytes must be >= 1: " + bytes);
      }
      this.clientSendBufferBytes = bytes;
      return this;
    }

    /**
     * SO_RCVBUF of the server-facing sockets; default 16 KiB (the kernel may round it).
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder serverReceiveBufferBytes(int bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("serverReceiveBufferBytes must be >= 1: " + bytes);
      }
      this.serverReceiveBufferBytes = bytes;
      return this;
    }

    /**
     * Binds a free port on 127.0.0.1 and starts accepting.
     *
     * @throws IOException if the port cannot be bound
     */
    public ShapingRelay start() throws IOException {
      return new ShapingRelay(this);
    }
  }
}
