import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsByteLength, IsInt, IsString, Length, Max, Min } from 'class-validator';
import { IsStringMap } from '../http/string-map.validator';
import { IfPresent } from '../http/optional.validator';

export class CreateMessageDto {
  @ApiProperty({ example: 'alice@example.com' })
  @IsString()
  @Length(1, 256)
  from!: string;

  @ApiProperty({ example: 'support' })
  @IsString()
  @Length(1, 128)
  channel!: string;

  @ApiProperty({ example: 'Where is my order?', maxLength: 65536 })
  @IsString()
  // 64 KiB of UTF-8, the size the event carries (a character limit would let 4-byte characters through at 256 KiB).
  @IsByteLength(1, 65_536, { message: 'body must be between 1 byte and 64 KiB of UTF-8' })
  body!: string;

  @ApiPropertyOptional({ example: {} })
  @IfPresent()
  @IsStringMap()
  metadata?: Record<string, string>;
}

export class ListMessagesQuery {
  @ApiPropertyOptional()
  @IfPresent()
  @IsString()
  @Length(1, 200)
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IfPresent()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional()
  @IfPresent()
  @IsString()
  @Length(1, 128)
  channel?: string;
}

/** Response shape of the message endpoints (documentation; the service returns `MessageView`). */
export class MessageDto {
  @ApiProperty({ example: 'msg_01a222afaee376379975dbf690303b4d' })
  id!: string;
  @ApiProperty({ example: 'alice@example.com' })
  from!: string;
  @ApiProperty({ example: 'support' })
  channel!: string;
  @ApiProperty({ example: 'Where is my order?' })
  body!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } })
  metadata!: Record<string, string>;
  @ApiProperty()
  version!: number;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}

export class MessagePageDto {
  @ApiProperty({ type: [MessageDto] })
  data!: MessageDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page' })
  nextCursor!: string | null;
}
