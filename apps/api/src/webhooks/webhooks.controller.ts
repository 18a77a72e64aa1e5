import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Tenant, type TenantCtx } from '../auth/tenant.decorator';
import {
  CreatedWebhookDto,
  CreateWebhookDto,
  EnabledWebhookDto,
  EnableWebhookDto,
  PageQueryDto,
  RotatedSecretDto,
  SendTestDto,
  TestSentDto,
  UpdatedWebhookDto,
  UpdateWebhookDto,
  WebhookDto,
  WebhookPageDto,
} from './webhooks.dto';
import { WebhooksService } from './webhooks.service';

const URL_REJECTED = 'The URL is not an acceptable endpoint (`reason`: https_required, forbidden_address, …)';

@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiOperation({ summary: 'Subscribe an endpoint; the response is the only time the secret is shown' })
  @ApiCreatedResponse({ type: CreatedWebhookDto })
  @ApiUnprocessableEntityResponse({ description: URL_REJECTED })
  create(@Tenant() t: TenantCtx, @Body() body: CreateWebhookDto) {
    return this.webhooks.create(t, body);
  }

  @Get()
  @ApiOperation({ summary: "The tenant's subscriptions, oldest first" })
  @ApiOkResponse({ type: WebhookPageDto })
  list(@Tenant() t: TenantCtx, @Query() q: PageQueryDto) {
    return this.webhooks.list(t, q.cursor, q.limit);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One subscription (never its secret)' })
  @ApiOkResponse({ type: WebhookDto })
  get(@Tenant() t: TenantCtx, @Param('id') id: string) {
    return this.webhooks.get(t, id);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change filters, URL, pins, metadata; disable or re-enable (optionally replaying since a time)',
  })
  @ApiOkResponse({ type: UpdatedWebhookDto })
  @ApiUnprocessableEntityResponse({ description: URL_REJECTED })
  update(@Tenant() t: TenantCtx, @Param('id') id: string, @Body() body: UpdateWebhookDto) {
    return this.webhooks.update(t, id, body);
  }

  @Post(':id/enable')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Re-enable a disabled subscription, replaying what it missed (dead letters and events committed while ' +
      'disabled) in per-resource order with the original webhook-id and bytes; `dryRun` counts first',
  })
  @ApiOkResponse({ type: EnabledWebhookDto })
  @ApiConflictResponse({ description: 'The subscription is already active' })
  enable(@Tenant() t: TenantCtx, @Param('id') id: string, @Body() body: EnableWebhookDto) {
    return this.webhooks.enable(t, id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete the subscription (emits webhook.subscription.deleted)' })
  @ApiNoContentResponse({ description: 'Deleted; nothing more is delivered to it' })
  async remove(@Tenant() t: TenantCtx, @Param('id') id: string): Promise<void> {
    await this.webhooks.remove(t, id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ApiOperation({ summary: 'New signing secret; the old one keeps signing for the grace period' })
  @ApiOkResponse({ type: RotatedSecretDto })
  rotateSecret(@Tenant() t: TenantCtx, @Param('id') id: string) {
    return this.webhooks.rotateSecret(t, id);
  }

  @Post(':id/test')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a `webhook.test` event to this endpoint (and only to it)' })
  @ApiAcceptedResponse({ type: TestSentDto })
  @ApiConflictResponse({ description: 'The subscription is disabled' })
  sendTest(@Tenant() t: TenantCtx, @Param('id') id: string, @Body() body: SendTestDto) {
    return this.webhooks.sendTest(t, id, body.message);
  }
}
