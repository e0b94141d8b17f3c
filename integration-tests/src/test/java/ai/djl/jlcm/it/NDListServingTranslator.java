package ai.djl.jlcm.it;

import ai.djl.modality.Input;
import ai.djl.modality.Output;
import ai.djl.ndarray.NDList;
import ai.djl.translate.Batchifier;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;

/**
 * A DJL Serving-style translator: the request body is an NDList-encoded batch, the response body
 * the NDList-encoded model output.
 */
public class NDListServingTranslator implements Translator<Input, Output> {

    /** {@inheritDoc} */
    @Override
    public NDList processInput(TranslatorContext ctx, Input input) {
        return NDList.decode(ctx.getNDManager(), input.getData().getAsBytes());
    }

    /** {@inheritDoc} */
    @Override
    public Output processOutput(TranslatorContext ctx, NDList list) {
        Output output = new Output();
        output.addProperty("Content-Type", "tensor/ndlist");
        output.add(list.encode());
        return output;
    }

    /** {@inheritDoc} */
    @Override
    public Batchifier getBatchifier() {
        return null;
    }
}
