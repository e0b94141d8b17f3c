package ai.djl.jlcm.examples.bert;

import ai.djl.jlcm.examples.data.RegistryFetcher;

import org.testng.Assert;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

public class BertTokensTest {

    static final List<String> VOCAB =
            List.of(
                    "[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "capital", "of",
                    "france", "is", "paris", ".", ",", "un", "##aff", "##able", "cafe", "'", "s");

    private Path dir;

    @BeforeMethod
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("tokens-test");
    }

    @AfterMethod
    public void tearDown() throws IOException {
        RegistryFetcher.deleteRecursively(dir);
    }

    static BertTokens tokens(Path dir, List<String> vocab) throws IOException {
        Path f = dir.resolve("vocab.txt");
        Files.write(f, vocab, StandardCharsets.UTF_8);
        return BertTokens.load(f);
    }

    @Test
    public void tokenizesWithDjlsBertTokenizer() throws IOException {
        BertTokens t = tokens(dir, VOCAB);
        Assert.assertEquals(t.size(), VOCAB.size());
        Assert.assertEquals(
                t.tokenize("The Capital of FRANCE is [MASK]."),
                List.of("the", "capital", "of", "france", "is", "[MASK]", "."));
        Assert.assertEquals(t.encode("the capital of france is [MASK] ."), new int[] {6, 7, 8, 9, 10, 5, 12});
        Assert.assertEquals(t.tokenize("Unaffable"), List.of("un", "##aff", "##able"));
        Assert.assertEquals(t.tokenize("Café, Paris's"), List.of("cafe", ",", "paris", "'", "s"));
        Assert.assertEquals(t.tokenize("zebra"), List.of("[UNK]"));
        Assert.assertEquals(t.encode("zebra"), new int[] {2});
        Assert.assertEquals(t.frame(new int[] {6}), new int[] {3, 6, 4});
        Assert.assertEquals(t.clsId(), 3);
        Assert.assertEquals(t.sepId(), 4);
        Assert.assertEquals(t.maskId(), 5);
        Assert.assertEquals(t.padId(), 0);
        Assert.assertEquals(t.unkId(), 2);
        Assert.assertEquals(t.token(11), "paris");
        Assert.assertEquals(t.getVocabulary().getIndex("paris"), 11);
    }

    @Test
    public void rejectsBrokenVocabularies() throws IOException {
        IOException dup =
                Assert.expectThrows(
                        IOException.class,
                        () -> tokens(dir, List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "a")));
        Assert.assertTrue(dup.getMessage().contains("repeats token 'a' at line 7"), dup.getMessage());
        IOException noMask =
                Assert.expectThrows(
                        IOException.class, () -> tokens(dir, List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "a")));
        Assert.assertTrue(noMask.getMessage().contains("lacks [MASK]"), noMask.getMessage());
    }
}
