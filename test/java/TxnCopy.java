import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Consume-transform-produce, exactly once: a group consumer (read_committed) on `in`, a
 * transactional producer writing each record's value + "-copied" to `out` (same partition), with
 * the consumed offsets committed in the same transaction (sendOffsetsToTransaction). Every
 * `abortEvery`-th transaction (0 = never) is aborted instead, and the consumer rewinds to the
 * last committed offsets, so the aborted batch is processed again. Stops after `count` input
 * records have been committed; prints "copied <count> transactions <committed> aborted <aborted>".
 *
 * usage: TxnCopy bootstrap in out group transactionalId count abortEvery
 */
public class TxnCopy {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String in = args[1];
    String out = args[2];
    String group = args[3];
    String txnId = args[4];
    int count = Integer.parseInt(args[5]);
    int abortEvery = Integer.parseInt(args[6]);
    Properties cp = new Properties();
    cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    cp.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    cp.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "7");
    Properties pp = new Properties();
    pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    pp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
    long deadline = System.currentTimeMillis() + 90_000;
    int copied = 0;
    int committed = 0;
    int aborted = 0;
    int txn = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp, new ByteArrayDeserializer(), new ByteArrayDeserializer());
         KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
      producer.initTransactions();
      consumer.subscribe(List.of(in));
      while (copied < count) {
        if (System.currentTimeMillis() > deadline) {
          System.err.println("timed out after copying " + copied);
          System.exit(2);
        }
        ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(200));
        if (records.isEmpty()) continue;
        producer.beginTransaction();
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
          byte[] value = (new String(r.value()) + "-copied").getBytes();
          producer.send(new ProducerRecord<>(out, r.partition(), r.key(), value));
          offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
        }
        producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
        txn++;
        if (abortEvery > 0 && txn % abortEvery == 0) {
          producer.abortTransaction();
          aborted++;
          // rewind to what the group has committed, as an application restarting the batch would
          for (TopicPartition tp : records.partitions()) {
            OffsetAndMetadata c = consumer.committed(java.util.Set.of(tp)).get(tp);
            consumer.seek(tp, c == null ? 0 : c.offset());
          }
        } else {
          producer.commitTransaction();
          committed++;
          copied += records.count();
        }
      }
    }
    System.out.println("copied " + copied + " transactions " + committed + " aborted " + aborted);
    System.out.flush();
  }
}
